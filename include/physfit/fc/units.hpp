#pragma once
/// @file
/// Units of the force-constant module. physfit works in eV, Angstrom and atomic mass units
/// (amu); force constants of order n are in eV/Angstrom^n; frequencies in THz. Other programs'
/// units are converted at the file boundary with these constants (CODATA 2018).

namespace physfit::fc::units {

inline constexpr double kBohr = 0.529177210903;         ///< Angstrom per Bohr
inline constexpr double kRydberg = 13.605693122994;     ///< eV per Rydberg
inline constexpr double kRyPerBohr = kRydberg / kBohr;  ///< eV/Angstrom per Ry/Bohr
inline constexpr double kHartree = 27.211386245988;     ///< eV per Hartree
/// sqrt(eV / (Angstrom^2 amu)) / (2 pi) in THz: frequency of an eigenvalue of the dynamical
/// matrix in eV/(Angstrom^2 amu); phonopy's VaspToTHz (its older CODATA constants), so that
/// frequencies agree with phonopy's to every digit.
inline constexpr double kEigenvalueToTHz = 15.633302300230191;

}  // namespace physfit::fc::units

namespace physfit::fc {

/// A unit of phonon frequencies for output: THz, cm^-1 or meV. The factors are phonopy's
/// (phonopy.units: THzToCm = 10^12 / (100 c), c = 299792458 m/s exactly; THzToEv = 10^12 h
/// with its h = 4.13566733e-15 eV s, CODATA 2006), so converted values match phonopy's digits.
struct FrequencyUnit {
  const char* name;     ///< as written in files and on the command line: "THz", "cm-1", "meV"
  const char* display;  ///< for figures: "THz", "cm⁻¹", "meV"
  double per_thz;       ///< value in this unit of 1 THz
};

namespace units {
inline constexpr double kTHzToInverseCm = 1e12 / (299792458.0 * 100.0);  ///< 33.3564095...
inline constexpr double kTHzToMeV = 4.13566733;                          ///< phonopy's
inline constexpr FrequencyUnit kFrequencyUnits[] = {
    {"THz", "THz", 1.0}, {"cm-1", "cm⁻¹", kTHzToInverseCm}, {"meV", "meV", kTHzToMeV}};
}  // namespace units

}  // namespace physfit::fc
