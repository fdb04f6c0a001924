#pragma once
/// @file
/// The figures physfit draws, built from plain numbers (no engine types, so that `physfit
/// phonons`, `physfit lasso` and `physfit plot` draw the same figure from memory or from a
/// file): band structures with their density of states, cross-validation curves, LASSO paths,
/// training histories and phase transitions.

#include <string>
#include <vector>

#include "physfit/plot/figure.hpp"

namespace physfit::plot {

/// Phonon bands along a path: `frequencies` row-major, one row of `bands` values per q-point.
struct BandLines {
  std::vector<double> distance;  ///< along the path (1/Å)
  std::vector<int> branch;       ///< segment index per q-point; a change breaks the lines
  int bands = 0;
  std::vector<double> frequencies;
};

/// A band structure with optional reference and density of states.
struct BandPlot {
  BandLines fit;
  BandLines reference;                 ///< empty (no q-points) when there is none
  std::vector<double> label_distance;  ///< special points along the path
  std::vector<std::string> labels;     ///< their names (Γ, X, ...)
  std::vector<double> dos_frequency;   ///< empty: no DOS panel
  std::vector<double> dos_density;
  std::string unit = "THz";  ///< frequency unit as displayed
  std::string title;
  std::string fit_label = "physfit";
  std::string reference_label = "reference";
  /// A panel under the bands with fit − reference, band by band (the reference must be on the
  /// same q-points).
  bool difference = false;
};

/// Bands (fit solid blue, reference dashed vermillion drawn above it, special points thin light
/// grey lines) with the DOS in a narrow panel at the right sharing the frequency axis.
Page band_page(const BandPlot& p, int width = 1100, int height = 620);

/// A cross-validation curve: the mean held-out error with its standard error per lambda and
/// the two choices lambda_min (vermillion) and lambda_1se (black), labelled with their values.
struct CvPlot {
  std::vector<double> lambdas, mean, standard_error;
  double lambda_min = 0, lambda_1se = 0;
  std::string title = "cross-validation";
  std::string ylabel = "held-out mean squared error";
};
Figure cv_figure(const CvPlot& p, int width = 900, int height = 560);

/// A phase transition read off classifiers (`physfit transition`): P(ordered | T) per lattice
/// size with error bars, and the crossings T(L) against L^(-1/nu) with the extrapolation.
struct TransitionCurve {
  int size = 0;  ///< L
  std::vector<double> temperature, probability, error;
};
struct TransitionPlot {
  std::vector<TransitionCurve> curves;
  std::vector<int> crossing_sizes;  ///< the sizes with a crossing
  std::vector<double> crossing, crossing_error;
  bool extrapolated = false;
  double critical_temperature = 0, critical_error = 0, slope = 0;
  double nu = 1;
  double exact = 0;  ///< the exact T_c (a guide line)
  int members = 1;   ///< networks per size (the largest ensemble)
  std::string title = "Ising phase transition learned by a classifier";
};
/// P(ordered | T) (wide, left) beside the crossings and their extrapolation (right).
Page transition_page(const TransitionPlot& p, int width = 1300, int height = 560);

/// Formats a number for a label with 3 significant digits.
std::string short_number(double v);

}  // namespace physfit::plot
