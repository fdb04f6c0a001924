#pragma once
/// @file
/// Chemical elements: symbols, atomic numbers and standard atomic weights.
///
/// The weights are the standard atomic weights phonopy assigns by default (IUPAC 2009 values,
/// as in phonopy 2.17's `phonopy.structure.atoms`), so that frequencies agree with phonopy's
/// when no masses are given; a test compares the table with phonopy's. Elements without a
/// standard atomic weight (Po, At, Rn, Fr, Ra and Z >= 94 except Th, Pa, U, Np) have none here
/// either: their masses must be given.

#include <string>

namespace physfit::fc {

/// Number of elements known (H .. Og).
inline constexpr int kNumElements = 118;

/// The atomic number of an element symbol, exactly as written ("Si" -> 14); 0 if unknown.
int atomic_number(const std::string& symbol);

/// The symbol of atomic number z (1 .. kNumElements); "" otherwise.
std::string element_symbol(int z);

/// The standard atomic weight (amu) of atomic number z; 0 when it has none (see above).
double standard_atomic_weight(int z);

/// The element a species label stands for, from its leading letters: "Ga" -> 31, "Fe1" and
/// "Fe_2" -> 26, "Ga_d" (a VASP POTCAR name) -> 31, "N" -> 7. A two-letter element wins over
/// a one-letter one ("Co1" is cobalt). Returns 0 if the label starts with no element symbol.
int element_of_label(const std::string& label);

}  // namespace physfit::fc
