#pragma once
/// @file
/// A thin, non-owning view of an MPI communicator with typed collectives.
///
/// Every member that communicates is **Collective**: all ranks of the communicator must call
/// it, in the same order, with matching arguments. Counts above INT_MAX elements are split
/// into several MPI calls, so callers may pass buffers of any size. A single-rank
/// communicator (including MPI_COMM_SELF) works like any other.

#include <mpi.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "physfit/mpi/datatype.hpp"

namespace physfit::mpi {

/// Reduction operations.
enum class Op { kSum, kProd, kMin, kMax, kLogicalAnd, kLogicalOr };

namespace detail {
MPI_Op to_mpi(Op op);
void check(int rc, const char* call);
void allreduce_bytes(void* data, std::size_t count, MPI_Datatype type, std::size_t type_size,
                     MPI_Op op, MPI_Comm comm);
void broadcast_bytes(void* data, std::size_t count, MPI_Datatype type, std::size_t type_size,
                     int root, MPI_Comm comm);
}  // namespace detail

/// Non-owning communicator view: copying it copies the handle, not the communicator.
class Comm {
 public:
  /// A view of `comm`; it must outlive the view.
  explicit Comm(MPI_Comm comm);
  /// MPI_COMM_WORLD.
  static Comm world() { return Comm(MPI_COMM_WORLD); }
  /// MPI_COMM_SELF: a one-rank communicator, for serial work through the same code.
  static Comm self() { return Comm(MPI_COMM_SELF); }

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root(int root = 0) const { return rank_ == root; }
  MPI_Comm raw() const { return comm_; }

  /// **Collective.**
  void barrier() const;

  /// **Collective.** Reduces one value over all ranks; every rank gets the result.
  template <class T>
  T allreduce(T value, Op op) const {
    detail::allreduce_bytes(&value, 1, datatype<T>(), sizeof(T), detail::to_mpi(op), comm_);
    return value;
  }
  /// **Collective.** In-place element-wise reduction of `count` values.
  template <class T>
  void allreduce_in_place(T* data, std::size_t count, Op op) const {
    detail::allreduce_bytes(data, count, datatype<T>(), sizeof(T), detail::to_mpi(op), comm_);
  }
  /// **Collective.** In-place element-wise reduction of a vector (same size on every rank).
  template <class T>
  void allreduce_in_place(std::vector<T>& values, Op op) const {
    allreduce_in_place(values.data(), values.size(), op);
  }

  /// **Collective.** Copies `count` values from `root` to every rank.
  template <class T>
  void broadcast(T* data, std::size_t count, int root) const {
    detail::broadcast_bytes(data, count, datatype<T>(), sizeof(T), root, comm_);
  }
  /// **Collective.** Copies one arithmetic value from `root` to every rank.
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  void broadcast(T& value, int root) const {
    broadcast(&value, 1, root);
  }
  /// **Collective.** Copies a vector from `root`; other ranks' vectors are resized.
  template <class T>
  void broadcast(std::vector<T>& values, int root) const {
    unsigned long long n = values.size();
    broadcast(n, root);
    if (rank_ != root) values.resize(n);
    broadcast(values.data(), values.size(), root);
  }
  /// **Collective.** Copies a string from `root`; other ranks' strings are replaced.
  void broadcast(std::string& text, int root) const;

  /// **Collective.** Gathers one value per rank; the result (indexed by rank) is filled on
  /// `root` and empty elsewhere.
  template <class T>
  std::vector<T> gather(const T& value, int root) const {
    std::vector<T> all(rank_ == root ? size_ : 0);
    detail::check(MPI_Gather(&value, 1, datatype<T>(), all.data(), 1, datatype<T>(), root, comm_),
                  "MPI_Gather");
    return all;
  }
  /// **Collective.** Gathers one value per rank onto every rank.
  template <class T>
  std::vector<T> allgather(const T& value) const {
    std::vector<T> all(size_);
    detail::check(MPI_Allgather(&value, 1, datatype<T>(), all.data(), 1, datatype<T>(), comm_),
                  "MPI_Allgather");
    return all;
  }
  /// **Collective.** Gathers one string per rank (any lengths) onto `root`; empty elsewhere.
  std::vector<std::string> gather(const std::string& text, int root) const;
  /// **Collective.** Concatenates every rank's vector, in rank order, on `root`.
  template <class T>
  std::vector<T> gatherv(const std::vector<T>& local, int root) const {
    std::vector<char> bytes = gather_bytes(local.data(), local.size() * sizeof(T), root);
    std::vector<T> all(bytes.size() / sizeof(T));
    if (!bytes.empty()) std::memcpy(all.data(), bytes.data(), bytes.size());
    return all;
  }

 private:
  std::vector<char> gather_bytes(const void* data, std::size_t bytes, int root) const;

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

/// Owns a duplicate of a communicator (MPI_Comm_dup) and frees it on destruction. Libraries
/// and test harnesses use their own duplicate so that their messages never match the
/// application's.
class OwnedComm {
 public:
  /// **Collective** over `parent`.
  explicit OwnedComm(const Comm& parent);
  /// **Collective**: MPI_Comm_free.
  ~OwnedComm();
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;
  /// A view of the duplicate.
  Comm view() const { return Comm(comm_); }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace physfit::mpi
