#pragma once
/// @file
/// The MPI datatype of a C++ arithmetic type.

#include <mpi.h>

#include <cstdint>
#include <type_traits>

namespace physfit::mpi {

/// MPI datatype matching T (arithmetic types and bool only).
template <class T>
MPI_Datatype datatype() {
  using U = std::remove_cv_t<T>;
  static_assert(std::is_arithmetic_v<U>, "physfit::mpi::datatype: T must be arithmetic");
  if constexpr (std::is_same_v<U, bool>) {
    return MPI_C_BOOL;
  } else if constexpr (std::is_same_v<U, char>) {
    return MPI_CHAR;
  } else if constexpr (std::is_same_v<U, signed char>) {
    return MPI_SIGNED_CHAR;
  } else if constexpr (std::is_same_v<U, unsigned char>) {
    return MPI_UNSIGNED_CHAR;
  } else if constexpr (std::is_same_v<U, short>) {
    return MPI_SHORT;
  } else if constexpr (std::is_same_v<U, unsigned short>) {
    return MPI_UNSIGNED_SHORT;
  } else if constexpr (std::is_same_v<U, int>) {
    return MPI_INT;
  } else if constexpr (std::is_same_v<U, unsigned>) {
    return MPI_UNSIGNED;
  } else if constexpr (std::is_same_v<U, long>) {
    return MPI_LONG;
  } else if constexpr (std::is_same_v<U, unsigned long>) {
    return MPI_UNSIGNED_LONG;
  } else if constexpr (std::is_same_v<U, long long>) {
    return MPI_LONG_LONG;
  } else if constexpr (std::is_same_v<U, unsigned long long>) {
    return MPI_UNSIGNED_LONG_LONG;
  } else if constexpr (std::is_same_v<U, float>) {
    return MPI_FLOAT;
  } else if constexpr (std::is_same_v<U, double>) {
    return MPI_DOUBLE;
  } else {
    static_assert(std::is_same_v<U, long double>, "unsupported arithmetic type");
    return MPI_LONG_DOUBLE;
  }
}

}  // namespace physfit::mpi
