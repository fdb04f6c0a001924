"""Memory of `physfit fc` (issue 10, point 7): the plan it prints before building rows against
the peak it then measures (getrusage, the largest resident set of each rank), the rows divided
over the ranks in the residual storage, and a plan over --solver.memory-budget-gb refused with its
numbers and the way out. Silicon data (scripts/data/make_si.py); run by CTest with PHYSFIT_BIN,
MPIEXEC and PHYSFIT_SI_DATA in the environment. No timing is asserted."""

import os
import unittest

from harness import physfit, summary

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
# 64 atoms, orders 2-4 (688 parameters), 200 configurations kept as rows (residual storage):
# 211 MB of rows, several times the rest (libraries about 30 MB, cluster space 1 MB, solver
# 10 MB), so the measured peak tests the plan's rows, not only its constant part.
MODEL = ["fc", "--input.data", os.path.join(DATA, "si64_rattle_0.03.h5"), "--clusters.cutoffs=-1,5.4,4.6",
         "--solver.mode", "residual", "--fit.method", "lasso", "--cv.folds", 0, "--path.count", 5,
         "--configs.train", 200, "--output.file", "", "--json"]
# The plan's parts are the sizes of the buffers the run allocates, and its base is the
# measured resident set before them; what it cannot know is the allocator's slack and the
# solver's active set (it assumes 512 Gram columns, 2.8 MB here). Measured on this model: the
# plan is within 1 % of the peak at 1, 2 and 3 ranks. A factor of 1.25 either way still fails
# if the rows were counted twice or held whole on every rank (a factor 2-3 at 2-3 ranks).
FACTOR = 1.25


def peak(result):
    """Largest per-rank peak and largest sum over the ranks, over the run's phases (MB)."""
    phases = summary(result)["phases"]
    return (max(p["peak_memory_mb"] for p in phases),
            max(p["peak_memory_total_mb"] for p in phases))


class Plan(unittest.TestCase):
    def test_the_plan_is_the_measured_peak_and_memory_per_rank_falls_with_ranks(self):
        measured = {}
        for ranks in (1, 2, 3):
            planned = physfit(*MODEL, "--solver.plan-only", ranks=ranks)
            self.assertEqual(planned.returncode, 0, planned.stderr)
            plan = summary(planned)["memory_plan"]
            self.assertEqual(plan["ranks"], ranks)
            self.assertEqual(plan["storage"], "residual")
            # The plan-only run builds the cluster space, never the rows: its own peak is far
            # below the run's and within the budget.
            self.assertLess(plan["plan_only_peak_bytes"], 0.5 * plan["per_rank_bytes"])
            self.assertLess(plan["plan_only_peak_bytes"], plan["budget_bytes"])
            run = physfit(*MODEL, ranks=ranks)
            self.assertEqual(run.returncode, 0, run.stderr)
            # The run logs the same plan (its measured base may differ by a few pages).
            logged = summary(run)["memory_plan"]
            for key in ("residual_rows_bytes", "solver_bytes", "row_scratch_bytes",
                        "cluster_space_bytes", "configurations_bytes"):
                self.assertEqual(logged[key], plan[key], key)
            self.assertAlmostEqual(logged["per_rank_bytes"] / plan["per_rank_bytes"], 1, delta=0.05)
            per_rank, total = peak(run)
            measured[ranks] = per_rank, total
            for what, mb, bytes_ in (("per rank", per_rank, plan["per_rank_bytes"]),
                                     ("in all", total, plan["total_bytes"])):
                self.assertLess(mb * 1e6, FACTOR * bytes_, "%d ranks, %s" % (ranks, what))
                self.assertGreater(mb * 1e6, bytes_ / FACTOR, "%d ranks, %s" % (ranks, what))
            # Rows are 211 MB of the plan at one rank, divided over the ranks.
            self.assertAlmostEqual(plan["residual_rows_bytes"],
                                   -(-200 // ranks) * 192 * 688 * 8, delta=1)
        # Per rank the peak falls with the ranks, and the sum over the ranks does not grow
        # like their number (each rank adds its libraries and cluster space, not the rows).
        self.assertLess(measured[2][0], 0.65 * measured[1][0])
        self.assertLess(measured[3][0], 0.8 * measured[2][0])
        self.assertLess(measured[3][1], 1.5 * measured[1][1])

    def test_a_plan_over_the_budget_is_refused_with_its_numbers_and_the_way_out(self):
        # 0.2 GB: one rank needs about 0.25 GB, two about 0.14 GB each.
        for extra in ([], ["--solver.plan-only"]):
            r = physfit(*MODEL, "--solver.memory-budget-gb", 0.2, *extra, ranks=1)
            self.assertEqual(r.returncode, 2, r.stderr)
            for text in ("memory plan needs", "per rank", "rows", "over --solver.memory-budget-gb 0.2",
                         "run on 2 ranks or more", "raise --solver.memory-budget-gb"):
                self.assertIn(text, r.stderr)
        r = physfit(*MODEL, "--solver.memory-budget-gb", 0.2, "--solver.plan-only", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r)["memory_plan"]["fewest_ranks"], 2)
        self.assertLessEqual(summary(r)["memory_plan"]["per_rank_bytes"], 0.2e9)
        # Below what every rank holds whatever the ranks (libraries, cluster space): no rank
        # count helps, and the message says so.
        r = physfit(*MODEL, "--solver.memory-budget-gb", 0.01, "--solver.plan-only", ranks=1)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no number of ranks", r.stderr)


if __name__ == "__main__":
    unittest.main()
