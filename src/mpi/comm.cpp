#include "physfit/mpi/comm.hpp"

#include <algorithm>
#include <climits>
#include <cstring>

#include "physfit/error.hpp"

namespace physfit::mpi {
namespace detail {

namespace {
// Largest element count passed to one MPI call: MPI counts are int.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;
}  // namespace

MPI_Op to_mpi(Op op) {
  switch (op) {
    case Op::kSum:
      return MPI_SUM;
    case Op::kProd:
      return MPI_PROD;
    case Op::kMin:
      return MPI_MIN;
    case Op::kMax:
      return MPI_MAX;
    case Op::kLogicalAnd:
      return MPI_LAND;
    case Op::kLogicalOr:
      return MPI_LOR;
  }
  return MPI_SUM;
}

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw ParallelError(std::string(call) + " failed: " + std::string(text, length));
}

void allreduce_bytes(void* data, std::size_t count, MPI_Datatype type, std::size_t type_size,
                     MPI_Op op, MPI_Comm comm) {
  auto* bytes = static_cast<char*>(data);
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(kMaxChunk, count - done);
    check(
        MPI_Allreduce(MPI_IN_PLACE, bytes + done * type_size, static_cast<int>(n), type, op, comm),
        "MPI_Allreduce");
    done += n;
  }
}

void broadcast_bytes(void* data, std::size_t count, MPI_Datatype type, std::size_t type_size,
                     int root, MPI_Comm comm) {
  auto* bytes = static_cast<char*>(data);
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(kMaxChunk, count - done);
    check(MPI_Bcast(bytes + done * type_size, static_cast<int>(n), type, root, comm), "MPI_Bcast");
    done += n;
  }
}

}  // namespace detail

Comm::Comm(MPI_Comm comm) : comm_(comm) {
  detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

void Comm::barrier() const { detail::check(MPI_Barrier(comm_), "MPI_Barrier"); }

void Comm::broadcast(std::string& text, int root) const {
  unsigned long long n = text.size();
  broadcast(n, root);
  if (rank_ != root) text.assign(n, '\0');
  broadcast(text.data(), text.size(), root);
}

std::vector<char> Comm::gather_bytes(const void* data, std::size_t bytes, int root) const {
  // Sizes first (64-bit), then the payload in pieces small enough for int displacements.
  const auto sizes = gather(static_cast<unsigned long long>(bytes), root);
  unsigned long long total = 0;
  for (auto s : sizes) total += s;
  unsigned long long limit = total;
  broadcast(limit, root);
  if (limit <= static_cast<unsigned long long>(INT_MAX)) {
    std::vector<int> counts(sizes.size()), displs(sizes.size());
    for (std::size_t r = 0, offset = 0; r < sizes.size(); ++r) {
      counts[r] = static_cast<int>(sizes[r]);
      displs[r] = static_cast<int>(offset);
      offset += sizes[r];
    }
    std::vector<char> all(total);
    detail::check(MPI_Gatherv(data, static_cast<int>(bytes), MPI_BYTE, all.data(), counts.data(),
                              displs.data(), MPI_BYTE, root, comm_),
                  "MPI_Gatherv");
    return all;
  }
  // Large payloads: point-to-point, one rank at a time, in chunks.
  std::vector<char> all(total);
  constexpr std::size_t kChunk = std::size_t{1} << 30;
  if (rank_ == root) {
    std::size_t offset = 0;
    for (int r = 0; r < size_; ++r) {
      for (std::size_t done = 0; done < sizes[r];) {
        const std::size_t n = std::min<std::size_t>(kChunk, sizes[r] - done);
        if (r == root) {
          std::memcpy(all.data() + offset + done, static_cast<const char*>(data) + done, n);
        } else {
          detail::check(MPI_Recv(all.data() + offset + done, static_cast<int>(n), MPI_BYTE, r, 0,
                                 comm_, MPI_STATUS_IGNORE),
                        "MPI_Recv");
        }
        done += n;
      }
      offset += sizes[r];
    }
  } else {
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min<std::size_t>(kChunk, bytes - done);
      detail::check(MPI_Send(static_cast<const char*>(data) + done, static_cast<int>(n), MPI_BYTE,
                             root, 0, comm_),
                    "MPI_Send");
      done += n;
    }
  }
  if (rank_ != root) all.clear();
  return all;
}

std::vector<std::string> Comm::gather(const std::string& text, int root) const {
  const auto lengths = gather(static_cast<unsigned long long>(text.size()), root);
  const std::vector<char> bytes = gather_bytes(text.data(), text.size(), root);
  std::vector<std::string> all;
  if (rank_ != root) return all;
  std::size_t offset = 0;
  for (auto n : lengths) {
    all.emplace_back(bytes.data() + offset, n);
    offset += n;
  }
  return all;
}

OwnedComm::OwnedComm(const Comm& parent) {
  detail::check(MPI_Comm_dup(parent.raw(), &comm_), "MPI_Comm_dup");
}

OwnedComm::~OwnedComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

}  // namespace physfit::mpi
