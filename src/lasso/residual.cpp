#include <memory>

#include "covariance.hpp"
#include "physfit/error.hpp"
#include "physfit/lasso/problem.hpp"

namespace physfit::lasso::detail {

std::shared_ptr<Covariance> make_residual_covariance(const mpi::Comm&, const std::vector<RowBlock>&,
                                                     std::int64_t, const ProblemOptions&,
                                                     std::int64_t*, Eigen::VectorXd*,
                                                     Eigen::VectorXd*, double*) {
  throw UsageError("the residual mode is not implemented yet");
}

}  // namespace physfit::lasso::detail
