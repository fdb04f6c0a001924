#pragma once
/// @file
/// Units of the force-constant module. physfit works in eV, Angstrom and atomic mass units
/// (amu); force constants of order n are in eV/Angstrom^n; frequencies in THz. Other programs'
/// units are converted at the file boundary with these constants (CODATA 2018).

namespace physfit::fc::units {

inline constexpr double kBohr = 0.529177210903;         ///< Angstrom per Bohr
inline constexpr double kRydberg = 13.605693122994;     ///< eV per Rydberg
inline constexpr double kRyPerBohr = kRydberg / kBohr;  ///< eV/Angstrom per Ry/Bohr
/// sqrt(eV / (Angstrom^2 amu)) / (2 pi) in THz: frequency of an eigenvalue of the dynamical
/// matrix in eV/(Angstrom^2 amu); phonopy's VaspToTHz (its older CODATA constants), so that
/// frequencies agree with phonopy's to every digit.
inline constexpr double kEigenvalueToTHz = 15.633302300230191;

}  // namespace physfit::fc::units
