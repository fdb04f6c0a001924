#include "physfit/fc/elements.hpp"

#include <cctype>

namespace physfit::fc {
namespace {

const char* const kSymbols[kNumElements] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
    "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

// Standard atomic weights (amu), by atomic number from 1; 0.0: none.
const double kWeights[kNumElements] = {
    1.00794,    4.002602,  6.941,       9.012182,  10.811,     12.0107, 14.0067,     15.9994,
    18.9984032, 20.1797,   22.98976928, 24.305,    26.9815386, 28.0855, 30.973762,   32.065,
    35.453,     39.948,    39.0983,     40.078,    44.955912,  47.867,  50.9415,     51.9961,
    54.938045,  55.845,    58.933195,   58.6934,   63.546,     65.38,   69.723,      72.64,
    74.9216,    78.96,     79.904,      83.798,    85.4678,    87.62,   88.90585,    91.224,
    92.90638,   95.96,     98,          101.07,    102.9055,   106.42,  107.8682,    112.411,
    114.818,    118.71,    121.76,      127.6,     126.90447,  131.293, 132.9054519, 137.327,
    138.90547,  140.116,   140.90765,   144.242,   145,        150.36,  151.964,     157.25,
    158.92535,  162.5,     164.93032,   167.259,   168.93421,  173.054, 174.9668,    178.49,
    180.94788,  183.84,    186.207,     190.23,    192.217,    195.084, 196.966569,  200.59,
    204.3833,   207.2,     208.9804,    0.0,       0.0,        0.0,     0.0,         0.0,
    227,        232.03806, 231.03588,   238.02891, 237,        0.0,     0.0,         0.0,
    0.0,        0.0,       0.0,         0.0,       0.0,        0.0,     0.0,         0.0,
    0.0,        0.0,       0.0,         0.0,       0.0,        0.0,     0.0,         0.0,
    0.0,        0.0,       0.0,         0.0,       0.0,        0.0,
};

}  // namespace

int atomic_number(const std::string& symbol) {
  for (int z = 0; z < kNumElements; ++z) {
    if (symbol == kSymbols[z]) return z + 1;
  }
  return 0;
}

std::string element_symbol(int z) { return z >= 1 && z <= kNumElements ? kSymbols[z - 1] : ""; }

double standard_atomic_weight(int z) { return z >= 1 && z <= kNumElements ? kWeights[z - 1] : 0.0; }

int element_of_label(const std::string& label) {
  if (label.empty() || !std::isupper(static_cast<unsigned char>(label[0]))) return 0;
  if (label.size() >= 2 && std::islower(static_cast<unsigned char>(label[1]))) {
    const int z = atomic_number(label.substr(0, 2));
    if (z > 0) return z;
  }
  return atomic_number(label.substr(0, 1));
}

}  // namespace physfit::fc
