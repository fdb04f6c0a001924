"""End-to-end tests of `physfit import`, `physfit fc` and `physfit phonons` on the silicon data
(scripts/data/make_si.py), against phonopy (Debian's python3-phonopy) and the files' own
layouts. Run by CTest (one test per class) with PHYSFIT_BIN, MPIEXEC, PHYSFIT_SI_DATA and
PHYSFIT_TEST_SCRATCH in the environment."""

import os
import shutil
import unittest

import h5py
import numpy as np

from harness import SOURCE, physfit, scratch, summary

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
# Three neighbour shells, below 5.43 Angstrom, the largest cutoff the 64-atom supercell
# represents without wrapping; 10.5 Bohr (the ALAMODE comparison) needs --clusters.allow-wrapping.
CUTOFF_FC3 = 5.0
BOHR = 0.529177210903


def si(name):
    return os.path.join(DATA, name)


def phonopy_frequencies(force_constants, qpoints):
    """phonopy's own frequencies for a FORCE_CONSTANTS file of the Si supercell."""
    import phonopy
    from phonopy.file_IO import parse_FORCE_CONSTANTS
    ph = phonopy.load(si("phonopy_params.yaml"), produce_fc=False, log_level=0)
    ph.force_constants = parse_FORCE_CONSTANTS(force_constants)
    ph.run_qpoints(qpoints)
    return ph.get_qpoints_dict()["frequencies"]


class Import(unittest.TestCase):
    def test_every_format_gives_the_numbers_of_the_hdf5_data(self):
        d = scratch(self)
        with h5py.File(si("si64_rattle_0.03.h5")) as f:
            u, forces = f["configs/displacements"][...], f["configs/forces"][...]
        for fmt, source in (("extxyz", "si64_rattle_0.03.extxyz"), ("dfset", "DFSET_0.03")):
            out = os.path.join(d, fmt + ".h5")
            r = physfit("import", fmt, "--input.file", si(source), "--structure.file", si("si64_rattle_0.03.h5"),
                        "--output.file", out, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(summary(r)["configurations"], 200)
            with h5py.File(out) as f:
                np.testing.assert_allclose(f["configs/displacements"][...], u, atol=2e-9)
                np.testing.assert_allclose(f["configs/forces"][...], forces, atol=2e-9)
                self.assertEqual(f["configs/forces"].attrs["unit"], "eV/angstrom")
                self.assertEqual(f["/physfit"].attrs["command"], "import")
        out = os.path.join(d, "phonopy.h5")
        r = physfit("import", "phonopy", "--input.file", si("phonopy_params.yaml"), "--output.file", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out) as f:
            self.assertEqual(f["configs/displacements"].shape, (2, 64, 3))
            np.testing.assert_allclose(f["structure/primitive_matrix"][...],
                                       [[0, .5, .5], [.5, 0, .5], [.5, .5, 0]])

    def test_missing_structure_and_far_atoms_are_clear_errors(self):
        d = scratch(self)
        r = physfit("import", "dfset", "--input.file", si("DFSET_0.01"), "--output.file",
                    os.path.join(d, "x.h5"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--structure.file", r.stderr)
        r = physfit("import", "extxyz", "--input.file", si("si64_rattle_0.1.extxyz"), "--structure.file",
                    si("si64_rattle_0.1.h5"), "--structure.map-tolerance", "0.3",
                    "--output.file", os.path.join(d, "x.h5"))
        # Data that do not match the ideal supercell are malformed input data (4), not a bad
        # option (2), even though a larger --structure.map-tolerance is one way out.
        self.assertEqual(r.returncode, 4)
        self.assertRegex(r.stderr, r"configuration \d+ \(line \d+\), atom \d+: the nearest site")
        self.assertFalse(os.path.exists(os.path.join(d, "x.h5")))
        r = physfit("import", "xyz", "--input.file", si("DFSET_0.01"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("extxyz", r.stderr)


class FitAndPhonons(unittest.TestCase):
    def test_phonopy_gets_physfits_frequencies_from_the_force_constants_physfit_writes(self):
        d = scratch(self)
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--clusters.cutoffs=-1," + str(CUTOFF_FC3),
                    "--configs.train", 50, "--output.file", os.path.join(d, "fc.h5"), "--output.export-dir", d,
                    "--json", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        s = summary(r)
        self.assertEqual([o["parameters"] for o in s["orders"]], [25, 82])
        self.assertAlmostEqual(s["cutoff_limit"], 5.430950, delta=1e-9)
        self.assertLess(s["train_relative"], 0.002)
        r = physfit("phonons", "--input.fc", os.path.join(d, "fc.h5"), "--output.file",
                    os.path.join(d, "phonons.h5"), "--output.figure", os.path.join(d, "bands.png"),
                    "--reference.fc", si("FORCE_CONSTANTS"), "--reference.structure",
                    si("si64_rattle_0.01.h5"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = summary(r)["frequencies"]
        names = ["G", "X", "L", "W", "K"]
        with h5py.File(si("si64_phonopy.h5")) as f:
            qpoints = f["qpoints"][...]
        theirs = phonopy_frequencies(os.path.join(d, "FORCE_CONSTANTS"), qpoints)
        for name, freq in zip(names, theirs):
            np.testing.assert_allclose(ours[name], freq, atol=1e-6, err_msg=name)
        with open(os.path.join(d, "bands.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with h5py.File(os.path.join(d, "phonons.h5")) as f:
            self.assertEqual(f["bands/frequencies"].shape[1], 6)
            dos = f["dos/density"][...]
            freq = f["dos/frequency"][...]
            self.assertAlmostEqual(np.trapz(dos, freq), 6.0, delta=0.05)  # 3 np states

    def test_exports_have_the_layouts_phonopy_phono3py_and_shengbte_read(self):
        d = scratch(self)
        r = physfit("fc", "--input.data", si("si64_rattle_0.03.h5"), "--clusters.cutoffs=-1,4.0", "--configs.train", 40,
                    "--cv.folds", 0, "--output.file", os.path.join(d, "fc.h5"), "--output.export-dir", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        from phonopy.file_IO import parse_FORCE_CONSTANTS
        full = parse_FORCE_CONSTANTS(os.path.join(d, "FORCE_CONSTANTS"))
        with h5py.File(os.path.join(d, "force_constants.hdf5")) as f:
            np.testing.assert_allclose(f["force_constants"][...], full, atol=1e-14)
            np.testing.assert_array_equal(f["p2s_map"][...], [0, 32])
        with h5py.File(os.path.join(d, "fc.h5")) as f:
            np.testing.assert_allclose(f["fc/force_constants"][...], full, atol=1e-12)
            self.assertEqual(f["fc"].attrs["parameters_2"], 25)
            self.assertAlmostEqual(f["fc"].attrs["cutoff_limit"], 5.430950, delta=1e-9)
        self.assertLess(np.abs(full.sum(axis=1)).max(), 1e-10)  # sum rule, exact
        np.testing.assert_allclose(full, full.transpose(1, 0, 3, 2), atol=1e-12)
        fc3, blocks = self.check_fc3_exports(d, 4.0)
        # Below the cutoff limit every triplet has one compact embedding: one block each.
        self.assertEqual(blocks, np.count_nonzero(np.abs(fc3).reshape(-1, 27).max(axis=1)))

    def test_shengbte_blocks_beyond_the_limit_are_compact_embeddings(self):
        # 10.5 Bohr on the 64-atom supercell (allow-wrapping): the fourth neighbours sit at
        # half a supercell vector, so a triplet with one has two compact embeddings; the export
        # spreads its constant over them, and the blocks still add up to fc3.hdf5.
        d = scratch(self)
        r = physfit("fc", "--input.data", si("si64_rattle_0.03.h5"), "--clusters.cutoffs=-1,%r" % (10.5 * BOHR),
                    "--clusters.allow-wrapping", "--configs.train", 40, "--cv.folds", 0, "--output.file", "",
                    "--output.export-dir", d, "--output.exports", "phono3py,shengbte", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("allow-wrapping", r.stderr)  # the warning
        self.assertEqual(summary(r)["orders"][1]["parameters"], 107)  # ALAMODE's count
        fc3, blocks = self.check_fc3_exports(d, 10.5 * BOHR)
        self.assertGreater(blocks, np.count_nonzero(np.abs(fc3).reshape(-1, 27).max(axis=1)))

    def check_fc3_exports(self, d, cutoff):
        """phono3py's fc3.hdf5 layout and invariances; ShengBTE's blocks, each at a compact
        embedding (every pair of its three atoms within the cutoff), add up to it."""
        with h5py.File(os.path.join(d, "fc3.hdf5")) as f:
            fc3 = f["fc3"][...]
            p2s = f["p2s_map"][...]
        self.assertEqual(fc3.shape, (2, 64, 64, 3, 3, 3))
        self.assertGreater(np.abs(fc3).max(), 1.0)
        np.testing.assert_allclose(fc3, fc3.transpose(0, 2, 1, 3, 5, 4), atol=1e-12)
        self.assertLess(np.abs(fc3.sum(axis=2)).max(), 1e-9)
        rebuilt = np.zeros_like(fc3)
        with h5py.File(si("si64_rattle_0.03.h5")) as f:
            pos = f["structure/positions"][...]
            lattice = f["structure/lattice"][...]
        with open(os.path.join(d, "FORCE_CONSTANTS_3RD")) as f:
            lines = [l for l in f.read().split("\n")]
        nblocks = int(lines[0])
        k = 1
        inv = np.linalg.inv(lattice)
        def atom_at(p_index, cell):
            target = pos[p2s[p_index]] + cell
            diff = (pos - target) @ inv
            diff -= np.round(diff)
            return int(np.argmin(np.abs(diff @ lattice).sum(axis=1)))
        for _ in range(nblocks):
            while lines[k].strip() == "":
                k += 1
            k += 1
            r2 = np.array(lines[k].split(), float)
            r3 = np.array(lines[k + 1].split(), float)
            i, j, l = (int(x) - 1 for x in lines[k + 2].split())
            values = np.array([float(lines[k + 3 + m].split()[3]) for m in range(27)])
            k += 30
            x1, x2, x3 = pos[p2s[i]], pos[p2s[j]] + r2, pos[p2s[l]] + r3
            for a, b in ((x1, x2), (x1, x3), (x2, x3)):
                self.assertLessEqual(np.linalg.norm(a - b), cutoff + 1e-6)
            rebuilt[i, atom_at(j, r2), atom_at(l, r3)] += values.reshape(3, 3, 3)
        np.testing.assert_allclose(rebuilt, fc3, atol=1e-9)
        return fc3, nblocks


class Errors(unittest.TestCase):
    def test_bad_inputs_end_every_rank_with_the_right_code(self):
        d = scratch(self)
        r = physfit("fc", "--input.data", os.path.join(d, "missing.h5"), ranks=2)
        self.assertEqual(r.returncode, 4)
        self.assertIn("missing.h5", r.stderr)
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--clusters.cutoffs=-1,4,3,2")
        self.assertEqual(r.returncode, 2)
        self.assertIn("orders 2 to 4", r.stderr)
        # Cutoffs the supercell cannot represent: refused, naming the order, value and limit.
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--clusters.cutoffs=-1,5.5563", ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        for text in ("order 3", "5.5563", "5.43095", "larger supercell", "--clusters.allow-wrapping"):
            self.assertIn(text, r.stderr)
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--clusters.cutoffs=20", "--solver.plan-only")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("order 2, 20", r.stderr)
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--configs.train", 300)
        self.assertEqual(r.returncode, 2)
        self.assertIn("200 configurations", r.stderr)
        bad = os.path.join(d, "nan.h5")
        shutil.copy(si("si64_rattle_0.01.h5"), bad)
        with h5py.File(bad, "r+") as f:
            f["configs/forces"][3, 5, 1] = np.nan
        r = physfit("fc", "--input.data", bad, "--output.file", os.path.join(d, "out.h5"), ranks=3)
        self.assertEqual(r.returncode, 4, r.stderr)  # a NaN in the input data: malformed data
        self.assertIn("configuration 4, atom 6", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "out.h5")))
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--solver.mode", "residual",
                    "--fit.method", "ols", ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("method = ols needs the Gram", r.stderr)
        # An unknown export is a usage error before any work (it used to end the run after the
        # model was written); a missing export folder is made.
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--output.file", os.path.join(d, "m.h5"),
                    "--output.export-dir", d, "--output.exports", "phonopy,phono4py", ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("'phono4py' is not one of: phonopy,", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "m.h5")))
        folder = os.path.join(d, "new", "exports")
        r = physfit("fc", "--input.data", si("si64_rattle_0.01.h5"), "--configs.train", 20, "--output.file", "",
                    "--output.export-dir", folder, "--output.exports", "phonopy", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(folder, "FORCE_CONSTANTS")))


class Examples(unittest.TestCase):
    def test_the_residual_storage_example_is_accepted_and_planned(self):
        # inputs/fc_si512_residual.ini on the 64-atom data with a small model: every key valid,
        # and the plan takes the residual storage.
        r = physfit("fc", os.path.join(SOURCE, "inputs", "fc_si512_residual.ini"),
                    "--input.data", si("si64_rattle_0.01.h5"), "--clusters.cutoffs=-1,4", "--solver.plan-only",
                    "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(summary(r)["memory_plan"]["storage"], "residual")
        # The plan gives the cutoff limit too (half the 10.8619 Angstrom supercell edge).
        self.assertAlmostEqual(summary(r)["cutoff_limit"], 5.430950, delta=1e-9)
        self.assertIn("largest cutoff without wrapping 5.43095 A", r.stderr)


class Parallel(unittest.TestCase):
    def test_one_two_and_three_ranks_fit_the_same_bits_in_both_storages(self):
        # Gram storage with 5-fold CV, and residual storage along a path: bitwise the same force
        # constants (and CV error) on 1, 2 and 3 ranks; the two storages agree to the tolerance.
        d = scratch(self)
        params = {}
        for storage in ("gram", "residual"):
            for ranks in (1, 2, 3):
                out = os.path.join(d, "fc_%s_%d.h5" % (storage, ranks))
                r = physfit("fc", "--input.data", si("si64_rattle_0.03.h5"), "--clusters.cutoffs=-1,4.0",
                            "--configs.train", 30, "--fit.method", "lasso", "--path.count", 10,
                            "--solver.mode", storage, "--cv.folds", 5 if storage == "gram" else 0,
                            "--output.file", out, "--json", ranks=ranks)
                self.assertEqual(r.returncode, 0, r.stderr)
                s = summary(r)
                self.assertEqual(s["storage"], storage)
                with h5py.File(out) as f:
                    params[storage, ranks] = (f["fc/parameters"][...], s["cv_rmse"], s["lambda"])
                    self.assertEqual(f["/physfit"].attrs["ranks"], ranks)
                    self.assertEqual(f["fit"].attrs["storage"], storage)
                    self.assertLess(f["fit"].attrs["relative_gap"], 1e-9)
            for ranks in (2, 3):
                np.testing.assert_array_equal(params[storage, ranks][0], params[storage, 1][0])
                self.assertEqual(repr(params[storage, ranks][1]), repr(params[storage, 1][1]))
        # The residual path ends at the smallest lambda; the Gram storage refitted at the chosen
        # one: compare the residual run with a Gram run at that same smallest lambda.
        out = os.path.join(d, "fc_gram_fixed.h5")
        r = physfit("fc", "--input.data", si("si64_rattle_0.03.h5"), "--clusters.cutoffs=-1,4.0", "--configs.train", 30,
                    "--fit.method", "lasso", "--fit.lambda", repr(params["residual", 1][2]), "--cv.folds", 0,
                    "--output.file", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out) as f:
            np.testing.assert_allclose(f["fc/parameters"][...], params["residual", 1][0],
                                       rtol=1e-6, atol=1e-9)


if __name__ == "__main__":
    unittest.main()
