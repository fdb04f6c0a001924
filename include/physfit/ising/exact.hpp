#pragma once
/// @file
/// Exact results of the square-lattice Ising model in the thermodynamic limit (J = k_B = 1),
/// against which the generator is tested: Onsager's critical temperature and energy (Phys. Rev.
/// 65, 117 (1944)) and Yang's spontaneous magnetisation (Phys. Rev. 85, 808 (1952)).

namespace physfit::ising {

/// T_c = 2 / ln(1 + sqrt 2) = 2.269185314...
double critical_temperature();

/// The complete elliptic integral of the first kind K(k) = int_0^{pi/2} dθ / sqrt(1 - k² sin² θ)
/// by the arithmetic-geometric mean: K(k) = π / (2 AGM(1, sqrt(1 - k²))), 0 <= k < 1.
double elliptic_k(double k);

/// Onsager's energy per spin u(T) = -coth(2β) [1 + (2/π)(2 tanh²(2β) - 1) K(κ)],
/// κ = 2 sinh(2β) / cosh²(2β); at T_c, -sqrt 2. T > 0.
double onsager_energy(double temperature);

/// Yang's spontaneous magnetisation per spin (1 - sinh^{-4}(2β))^{1/8} below T_c, 0 above.
double yang_magnetization(double temperature);

}  // namespace physfit::ising
