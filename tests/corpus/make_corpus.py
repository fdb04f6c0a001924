#!/usr/bin/python3
"""Writes the malformed-input corpus (tests/corpus/<format>/...) and its manifest cases.tsv.

The files are committed; this script documents how each was made and regenerates them
(`/usr/bin/python3 tests/corpus/make_corpus.py [PHYSFIT_BIN]`; the binary makes the two model
files the model cases corrupt). Each case is one physfit command line on one bad file, with the
exit code the README's table gives (2 usage, 4 malformed or unreadable input data, 5 numerical
failure) and a fragment of the message. Placeholders in the command: {dir} the corpus folder,
{out} an output file that exists before the run (the runner checks it is left unchanged).
"""
import gzip
import os
import shlex
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = []  # (id, group, code, culprit, fragment, args)


def put(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return rel


def case(group, name, code, culprit, fragment, *args):
    CASES.append((group + "/" + name, group, code, culprit, fragment,
                  shlex.join(str(a) for a in args)))


# ---------------------------------------------------------------- shared good crystal
# CsCl-type NaCl (simple cubic, a = 4 Angstrom, 2 atoms), 2x2x2 supercell (16 atoms), forces of
# nearest-neighbour springs (k = 1 eV/A^2) on Gaussian rattles: small, physical, fits exactly.
A = 4.0
UNIT_FRAC = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
UNIT_Z = [11, 17]
N = 2
SUPER_LAT = np.eye(3) * A * N
# phonopy's supercell order: index = s*n^3 + i + n*j + n^2*k
SUPER_FRAC, SUPER_Z = [], []
for s in range(2):
    for k in range(N):
        for j in range(N):
            for i in range(N):
                SUPER_FRAC.append((UNIT_FRAC[s] + [i, j, k]) / N)
                SUPER_Z.append(UNIT_Z[s])
SUPER_FRAC = np.array(SUPER_FRAC)
SUPER_POS = SUPER_FRAC @ SUPER_LAT
NAT = len(SUPER_Z)
SYM = {11: "Na", 17: "Cl"}
MASS = {11: 22.98977, 17: 35.453}


def spring_forces(u):
    f = np.zeros_like(u)
    for i in range(NAT):
        for j in range(NAT):
            if i == j:
                continue
            d = SUPER_FRAC[j] - SUPER_FRAC[i]
            d -= np.round(d)
            r = d @ SUPER_LAT
            if abs(np.linalg.norm(r) - A * np.sqrt(3) / 2) > 1e-6:
                continue
            e = r / np.linalg.norm(r)
            f[i] += e * (e @ (u[j] - u[i]))
    return f


RNG = np.random.default_rng(11)
U = 0.03 * RNG.standard_normal((6, NAT, 3))
F = np.array([spring_forces(u) for u in U])


def fc_h5(rel, edit=None, **over):
    """physfit's fc data layout; `over` replaces datasets (None removes one)."""
    d = {"structure/lattice": SUPER_LAT, "structure/positions": SUPER_POS,
         "structure/numbers": np.array(SUPER_Z, np.int32),
         "structure/masses": np.array([MASS[z] for z in SUPER_Z]),
         "configs/displacements": U, "configs/forces": F}
    for k, v in over.items():
        d[k.replace("__", "/")] = v
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, "w") as f:
        for k, v in d.items():
            if v is not None:
                f[k] = v
        if edit:
            edit(f)
    return rel


def poscar(lat=np.eye(3) * A, frac=UNIT_FRAC, species="Na Cl", counts="1 1", scale="1.0",
           mode="Direct", extra=None):
    lines = ["NaCl CsCl-type", scale]
    lines += ["  %.10f %.10f %.10f" % tuple(r) for r in lat]
    if species is not None:
        lines.append(species)
    lines.append(counts)
    lines.append(mode)
    lines += ["  %.10f %.10f %.10f" % tuple(p) for p in frac]
    if extra:
        lines += extra
    return "\n".join(lines) + "\n"


def extxyz_frames(frames, lattice=None, props="species:S:1:pos:R:3:forces:R:3", natoms=None):
    lat = SUPER_LAT if lattice is None else lattice
    out = []
    for pos, frc in frames:
        out.append("%d" % (len(pos) if natoms is None else natoms))
        out.append('Lattice="%s" Properties=%s pbc="T T T"'
                   % (" ".join("%.10f" % v for v in np.ravel(lat)), props))
        for z, p, f in zip(SUPER_Z, pos, frc):
            out.append("%s %.10f %.10f %.10f %.10f %.10f %.10f" % ((SYM[z],) + tuple(p) + tuple(f)))
    return "\n".join(out) + "\n"


GOOD_FRAMES = [(SUPER_POS + U[c], F[c]) for c in range(3)]
BOHR, RY = 0.529177210903, 13.605693122994


def dfset_text(rows=None):
    lines = []
    for c in range(3):
        lines.append("# config %d" % c)
        for a in range(NAT):
            v = np.concatenate([U[c, a] / BOHR, F[c, a] / (RY / BOHR)])
            lines.append(" ".join("%.12f" % x for x in v))
    return "\n".join(lines if rows is None else rows) + "\n"


def alm_in(nat=NAT, nkd=2, kd="Na Cl", mass="22.98977 35.453", cell=None, positions=None,
           general=True, drop=None):
    cell = cell or ["%.10f" % (1.0 / BOHR)] + ["%g %g %g" % tuple(r) for r in SUPER_LAT]
    if positions is None:
        positions = ["%d %.10f %.10f %.10f" % ((1 if z == 11 else 2,) + tuple(p))
                     for z, p in zip(SUPER_Z, SUPER_FRAC)]
    g = ["&general", "  PREFIX = nacl", "  MODE = suggest", "  NAT = %s" % nat,
         "  NKD = %s" % nkd, "  KD = %s" % kd, "  MASS = %s" % mass, "/"]
    if drop:
        g = [l for l in g if drop not in l]
    parts = (g if general else []) + ["&interaction", "  NORDER = 1", "/", "&cell"] + cell + \
        ["/", "&position"] + positions + ["/"]
    return "\n".join(parts) + "\n"


def force_sets_type2(nconf=3, nat=NAT, edit=None):
    lines = []
    for c in range(nconf):
        lines.append("# configuration %d" % (c + 1))
        for a in range(nat):
            lines.append(" ".join("%.12f" % x for x in np.concatenate([U[c, a], F[c, a]])))
    if edit:
        lines = edit(lines)
    return "\n".join(lines) + "\n"


def force_sets_type1(ndisp=2, nat=NAT, disp_atoms=(1, 9), edit=None):
    lines = [str(nat), str(ndisp), ""]
    for d in range(ndisp):
        atom = disp_atoms[d]
        u = np.zeros((NAT, 3))
        u[min(max(atom, 1), NAT) - 1] = [0.01, 0, 0]
        f = spring_forces(u)
        lines.append(str(atom))
        lines.append("  0.0100000000000000   0.0000000000000000   0.0000000000000000")
        lines += ["  %.12f %.12f %.12f" % tuple(x) for x in f[:nat]]
        lines.append("")
    if edit:
        lines = edit(lines)
    return "\n".join(lines) + "\n"


def phonopy_yaml(body_edit=None, with_forces=False, calculator=None, disp=True):
    """phonopy_disp.yaml-like text in phonopy's layout (unit cell, supercell, displacements)."""
    def cell(name, lat, frac, zs):
        out = ["%s:" % name, "  lattice:"]
        out += ["  - [ %.10f, %.10f, %.10f ] # %s" % (tuple(r) + ("abc"[i],)) for i, r in
                enumerate(lat)]
        out.append("  points:")
        for z, p in zip(zs, frac):
            out += ["  - symbol: %s # 1" % SYM[z],
                    "    coordinates: [ %.10f, %.10f, %.10f ]" % tuple(p),
                    "    mass: %.6f" % MASS[z]]
        return out
    lines = ["phonopy:", "  version: 2.17.1"]
    if calculator:
        lines.append("  calculator: %s" % calculator)
    lines += ["physical_unit:", "  atomic_mass: \"AMU\"", "  length: \"angstrom\"",
              "  force_constants: \"eV/angstrom^2\"", "",
              "supercell_matrix:", "- [ 2, 0, 0 ]", "- [ 0, 2, 0 ]", "- [ 0, 0, 2 ]", ""]
    lines += cell("primitive_cell", np.eye(3) * A, UNIT_FRAC, UNIT_Z) + [""]
    lines += cell("unit_cell", np.eye(3) * A, UNIT_FRAC, UNIT_Z) + [""]
    lines += cell("supercell", SUPER_LAT, SUPER_FRAC, SUPER_Z) + [""]
    if disp:
        lines.append("displacements:")
        for atom in (1, 9):
            lines += ["- atom: %d" % atom, "  displacement:",
                      "    [ 0.0100000000000000, 0.0000000000000000, 0.0000000000000000 ]"]
            if with_forces:
                u = np.zeros((NAT, 3))
                u[atom - 1] = [0.01, 0, 0]
                lines.append("  forces:")
                lines += ["  - [ %.12f, %.12f, %.12f ]" % tuple(x) for x in spring_forces(u)]
    text = "\n".join(lines) + "\n"
    return body_edit(text) if body_edit else text


def born(lines):
    return "\n".join(lines) + "\n"


GOOD_BORN = ["14.399652", "2.0 0 0 0 2.0 0 0 0 2.0", "1.1 0 0 0 1.1 0 0 0 1.1",
             "-1.1 0 0 0 -1.1 0 0 0 -1.1"]


# ---------------------------------------------------------------- neural-network data (HDF5)
def nn_h5(rel, rows=24, shape=(2, 3), fdtype=np.uint8, scale=1 / 255, offset=0.0, labels="ok",
          classes=3, edit=None, features=True):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        if features:
            x = f.create_dataset("features", data=rng.integers(0, 256, (rows,) + tuple(shape))
                                 .astype(fdtype))
            if scale is not None:
                x.attrs["scale"] = np.float64(scale)
            if offset is not None:
                x.attrs["offset"] = np.float64(offset)
        if labels is not None:
            lab = (np.arange(rows) % 3).astype(np.int32) if isinstance(labels, str) else labels
            l = f.create_dataset("labels", data=lab)
            if classes is not None:
                l.attrs["classes"] = classes
        if edit:
            edit(f)
    return rel


def truncate(src_rel, rel, keep):
    data = open(os.path.join(HERE, src_rel), "rb").read()
    return put(rel, data[:keep if keep >= 0 else len(data) + keep])


def corrupt(src_rel, rel, offsets, byte=0xFF):
    data = bytearray(open(os.path.join(HERE, src_rel), "rb").read())
    for o in offsets:
        data[o] ^= byte
    return put(rel, bytes(data))


def hdf5_training(bin_path):
    g = "hdf5-train"
    put("ini/train.ini", "[data]\nvalidation-split = 0.25\n[model]\n"
        "layers = flatten, dense 4 tanh, dense 3\n[train]\nepochs = 1\nbatch = 6\nseed = 2\n")
    good = nn_h5(g + "/good.h5")
    train = lambda rel: ("train", "{dir}/ini/train.ini", "--data.train", "{dir}/" + rel,
                         "--output.model", "{out}")

    def c(name, code, frag, rel=None, **kw):
        rel = rel or nn_h5("%s/%s.h5" % (g, name), **kw)
        case(g, name, code, rel, frag, *train(rel))

    c("empty_file", 4, "is not an HDF5 file", put(g + "/empty_file.h5", b""))
    c("text_file", 4, "is not an HDF5 file", put(g + "/text_file.h5", "features,labels\n1,2\n"))
    size = os.path.getsize(os.path.join(HERE, good))
    c("truncated_half", 4, "", truncate(good, g + "/truncated_half.h5", size // 2))
    c("truncated_superblock", 4, "", truncate(good, g + "/truncated_superblock.h5", 40))
    c("truncated_last_byte", 4, "", truncate(good, g + "/truncated_last_byte.h5", -1))
    c("corrupt_signature", 4, "is not an HDF5 file", corrupt(good, g + "/corrupt_signature.h5", [1]))
    c("corrupt_superblock", 4, "", corrupt(good, g + "/corrupt_superblock.h5", range(20, 40)))
    c("corrupt_object_headers", 4, "", corrupt(good, g + "/corrupt_object_headers.h5",
                                               range(96, 800, 7)))
    c("no_features", 4, "/features", features=False)
    c("no_labels_nor_targets", 4, "has neither /labels", labels=None)
    c("float_labels", 4, "must be integers", labels=(np.arange(24) % 3) + 0.5)
    c("labels_too_few", 4, "/labels", labels=np.zeros(10, np.int32))
    c("labels_2d", 4, "/labels", labels=np.zeros((24, 2), np.int32))
    c("negative_label", 4, "/labels", labels=np.where(np.arange(24) == 5, -1, 1).astype(np.int32))
    c("label_beyond_classes", 4, "/labels", labels=np.where(np.arange(24) == 7, 9, 1)
      .astype(np.int32))
    c("no_classes_attribute", 4, "has no attribute 'classes'", classes=None)
    c("classes_zero", 4, "attribute 'classes'", classes=np.int64(0))
    c("classes_negative", 4, "attribute 'classes'", classes=np.int64(-3))
    c("classes_huge", 4, "attribute 'classes'", classes=np.int64(10**12))
    c("classes_float", 4, "attribute 'classes'", classes=np.float64(3.5))
    c("classes_string", 4, "attribute 'classes'", classes=np.bytes_(b"three"))
    c("scale_nan", 4, "attribute 'scale'", scale=np.nan)
    c("scale_inf", 4, "attribute 'scale'", scale=-np.inf)
    c("offset_nan", 4, "attribute 'offset'", offset=np.nan)
    c("scale_string", 4, "attribute 'scale'",
      edit=lambda f: (f["features"].attrs.__delitem__("scale"), f["features"].attrs.create("scale", np.bytes_(b"1/255"))))
    c("scale_array", 4, "attribute 'scale'",
      edit=lambda f: (f["features"].attrs.__delitem__("scale"), f["features"].attrs.create("scale", np.ones(3))))
    c("features_rank1", 4, "/features", shape=())
    c("features_rank5", 4, "/features", shape=(2, 2, 2, 2))
    c("features_zero_dim", 4, "dimension 1 is 0", shape=(0, 3))
    c("features_no_rows", 4, "has no rows", rows=0, labels=np.zeros(0, np.int32))
    c("features_int32", 4, "/features", fdtype=np.int32)
    c("features_string", 4, "/features", features=False,
      edit=lambda f: f.create_dataset("features", data=np.array([b"ab"] * 24)))
    c("features_nan", 4, "/features", fdtype=np.float32,
      edit=lambda f: f["features"].__setitem__((3, 1, 1), np.nan))
    c("features_inf", 4, "/features", fdtype=np.float32,
      edit=lambda f: f["features"].__setitem__((0, 0, 0), np.inf))
    rel = nn_h5(g + "/targets_nan.h5", labels=None, edit=lambda f: f.create_dataset(
        "targets", data=np.where(np.arange(24) == 4, np.nan, 1.0).reshape(24, 1)))
    case(g, "targets_nan", 4, rel, "/targets", *train(rel), "--model.loss", "mse",
         "--model.layers", "flatten, dense 4 tanh, dense 1")

    def huge(f):
        del f["features"]
        x = f.create_dataset("features", shape=(2**40, 28, 28), dtype=np.uint8, chunks=(1, 28, 28))
        x.attrs["scale"], x.attrs["offset"] = 1 / 255, 0.0
        del f["labels"]
        l = f.create_dataset("labels", shape=(2**40,), dtype=np.int32, chunks=(1024,))
        l.attrs["classes"] = 3
    c("huge_dimensions", 4, "", edit=huge)
    c("group_not_dataset", 4, "/features", features=False,
      edit=lambda f: f.create_group("features"))
    # evaluate / predict on the same broken data files, and on broken models
    model = "hdf5-model/good_model.h5"
    os.makedirs(os.path.join(HERE, "hdf5-model"), exist_ok=True)
    if bin_path:
        p = os.path.join(HERE, model)
        if os.path.exists(p):
            os.remove(p)
        subprocess.run([bin_path, "train", os.path.join(HERE, "ini/train.ini"), "--data.train",
                        os.path.join(HERE, good), "--output.model", p, "--quiet"], check=True)
    gm = "hdf5-model"
    for name in ("truncated_half", "float_labels", "scale_nan", "features_nan"):
        rel = "%s/%s.h5" % (g, name)
        frag = {"truncated_half": "", "float_labels": "must be integers",
                "scale_nan": "attribute 'scale'", "features_nan": "/features"}[name]
        case(gm, "evaluate_" + name, 4, rel, frag, "evaluate", "{dir}/" + model, "{dir}/" + rel)
        case(gm, "predict_" + name, 4, rel, frag, "predict", "{dir}/" + model, "{dir}/" + rel,
             "--output.file", "{out}")

    def mc(name, code, frag, edit=None, rel=None):
        if rel is None:
            rel = "%s/%s.h5" % (gm, name)
            shutil.copy(os.path.join(HERE, model), os.path.join(HERE, rel))
            with h5py.File(os.path.join(HERE, rel), "r+") as f:
                edit(f)
        case(gm, name, code, rel, frag, "evaluate", "{dir}/" + rel, "{dir}/" + good)
        case(gm, "predict_" + name, code, rel, frag, "predict", "{dir}/" + rel, "{dir}/" + good,
             "--output.file", "{out}")

    def setp(f, i, v):
        f["/model/parameters"][i] = v
    mc("parameter_nan", 4, "is nan", lambda f: setp(f, 3, np.nan))
    mc("parameter_inf", 4, "is inf", lambda f: setp(f, 0, np.inf))
    mc("no_parameters", 4, "/model/parameters", lambda f: f.__delitem__("/model/parameters"))

    def short(f):
        p = f["/model/parameters"][...]
        del f["/model/parameters"]
        f["/model/parameters"] = p[:-5]
    mc("parameters_too_few", 4, "/model/parameters", short)

    def ints(f):
        p = f["/model/parameters"][...]
        del f["/model/parameters"]
        f["/model/parameters"] = p.astype(np.int32)
    mc("not_a_model", 4, "", rel=good)
    msize = os.path.getsize(os.path.join(HERE, model))
    mc("truncated_model", 4, "", rel=truncate(model, gm + "/truncated_model.h5", msize // 2))
    mc("empty_model", 4, "is not an HDF5 file", rel=put(gm + "/empty_model.h5", b""))


# ---------------------------------------------------------------- IDX
def idx_bytes(dtype, shape, data=b"", magic01=b"\0\0"):
    return magic01 + bytes([dtype, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) \
        + data


def idx_cases():
    g = "idx"
    good_labels = put(g + "/good_labels.idx", idx_bytes(0x08, (4,), bytes([0, 1, 2, 1])))
    good_images = put(g + "/good_images.idx", idx_bytes(0x08, (4, 2, 3), bytes(range(24))))

    def img(name, data, frag, code=4, labels=good_labels):
        rel = put("%s/%s" % (g, name), data)
        case(g, name, code, rel, frag, "import", "idx", "--input.images", "{dir}/" + rel, "--input.labels",
             "{dir}/" + labels, "--output.file", "{out}")

    def lab(name, data, frag, code=4):
        rel = put("%s/%s" % (g, name), data)
        case(g, name, code, rel, frag, "import", "idx", "--input.images", "{dir}/" + good_images,
             "--input.labels", "{dir}/" + rel, "--output.file", "{out}")

    img("empty.idx", b"", "")
    img("short_magic.idx", b"\0\0\x08", "")
    img("bad_magic_prefix.idx", idx_bytes(0x08, (4, 2, 3), bytes(24), b"\x1f\x00"), "")
    img("unknown_type.idx", idx_bytes(0x07, (4, 2, 3), bytes(24)), "unknown IDX data type 0x07")
    img("zero_dimensions.idx", idx_bytes(0x08, (), b""), "declares 0 dimensions")
    img("truncated_header.idx", idx_bytes(0x08, (4, 2, 3))[:9], "truncated IDX header")
    img("truncated_data.idx", idx_bytes(0x08, (4, 2, 3), bytes(23)), "truncated IDX data")
    img("trailing_bytes.idx", idx_bytes(0x08, (4, 2, 3), bytes(30)), "bytes after the")
    img("zero_dimension.idx", idx_bytes(0x08, (4, 0, 3)), "declares dimension 1 as 0")
    img("zero_images.idx", idx_bytes(0x08, (0, 2, 3)), "declares dimension 0 as 0")
    img("huge_dimensions.idx", idx_bytes(0x08, (2**32 - 1, 2**32 - 1, 2**32 - 1)), "")
    img("huge_count.idx", idx_bytes(0x08, (2**31, 28, 28), bytes(100)), "truncated IDX data")
    img("float_images.idx", idx_bytes(0x0D, (4, 2, 3), np.zeros(24, ">f4").tobytes()),
        "expected uint8 images")
    img("rank1_images.idx", idx_bytes(0x08, (4,), bytes(4)), "expected uint8 images")
    rel = put(g + "/images_labels_count.idx", idx_bytes(0x08, (5, 2, 3), bytes(30)))
    case(g, "images_labels_count.idx", 4, good_labels, "expected one label per image (5)",
         "import", "idx", "--input.images", "{dir}/" + rel, "--input.labels", "{dir}/" + good_labels,
         "--output.file", "{out}")
    img("corrupt.idx.gz", gzip.compress(idx_bytes(0x08, (4, 2, 3), bytes(24)))[:-12] + b"garbage!",
        "")
    img("truncated.idx.gz", gzip.compress(idx_bytes(0x08, (4, 2, 3), bytes(range(24))))[:20], "")
    lab("labels_negative.idx", idx_bytes(0x09, (4,), bytes([0, 1, 0xFF, 1])), "is not a non-negative integer")
    lab("labels_float.idx", idx_bytes(0x0D, (4,), np.array([0, 1.5, 2, 1], ">f4").tobytes()),
        "is not a non-negative integer")
    lab("labels_nan.idx", idx_bytes(0x0E, (4,), np.array([0, np.nan, 2, 1], ">f8").tobytes()),
        "label 1")
    lab("labels_inf.idx", idx_bytes(0x0D, (4,), np.array([0, 1, np.inf, 1], ">f4").tobytes()),
        "label 2")
    lab("labels_huge.idx", idx_bytes(0x0C, (4,), np.array([0, 1, 2**31 - 1, 1], ">i4").tobytes()),
        "")
    lab("labels_2d.idx", idx_bytes(0x08, (4, 2), bytes(8)), "")
    lab("labels_truncated.idx", idx_bytes(0x08, (4,), bytes(3)), "truncated IDX data")
    lab("labels_empty.idx", b"", "")


# ---------------------------------------------------------------- CSV
def csv_cases():
    g = "csv"

    def c(name, text, frag, code=4, extra=("--csv.label-column", "label")):
        rel = put("%s/%s.csv" % (g, name), text)
        case(g, name, code, rel, frag, "import", "csv", "--input.file", "{dir}/" + rel, "--output.file",
             "{out}", *extra)

    c("empty", "", "has no data rows")
    c("header_only", "a,b,label\n", "has no data rows after its header")
    c("comments_only", "# a table\n# nothing\n", "has no data rows")
    c("ragged_row", "a,b,label\n1,2,0\n3,1\n", ":3: 2 fields, expected 3")
    c("extra_field", "a,b,label\n1,2,0\n3,4,1,9\n", ":3: 4 fields, expected 3")
    c("word_value", "a,b,label\n1,two,0\n", "column 'b': bad value 'two'")
    c("nan_value", "a,b,label\n1,nan,0\n", "column 'b': bad value 'nan'")
    c("inf_value", "a,b,label\n1,2,0\n-inf,2,1\n", "column 'a': bad value '-inf'")
    c("overflow_value", "a,b,label\n1e999,2,0\n", "column 'a': bad value '1e999'")
    c("empty_field", "a,b,label\n1,,0\n", "column 'b': bad value ''")
    c("hex_garbage", "a,b,label\n1,2x,0\n", "column 'b': bad value '2x'")
    c("wrong_delimiter", "a;b;label\n1;2;0\n3;4;1\n", "bad value '1;2;0'")
    c("no_label_column", "a,b,c\n1,2,0\n", "no such column", code=2)
    c("float_label", "a,b,label\n1,2,0\n3,4,1.5\n", "label")
    c("negative_label", "a,b,label\n1,2,0\n3,4,-1\n", "label")
    c("huge_label", "a,b,label\n1,2,0\n3,4,1e12\n", "label")
    c("nan_target", "a,b,y\n1,2,0.5\n3,4,NaN\n", "column 'y'", extra=("--csv.target-columns", "y"))
    c("binary_garbage", "a,b,label\n\x00\x01\x02,\xff,0\n", "bad value")
    c("only_label_column", "label\n0\n1\n", "no feature columns left", code=2)


# ---------------------------------------------------------------- INI configuration files
def ini_cases():
    g = "ini"

    def c(name, text, frag, cmd="selfcheck", code=2):
        rel = put("%s/%s.ini" % (g, name), text)
        extra = {"train": ("--data.train", "{dir}/hdf5-train/good.h5", "--output.model", "{out}"),
                 "lasso": ("--input.file", "{dir}/hdf5-lasso/good.h5", "--output.file", "{out}"),
                 "fc": ("--input.data", "{dir}/fc-hdf5/good.h5", "--output.file", "{out}"),
                 "phonons": ("--input.fc", "{dir}/fc-model/good_fc.h5", "--output.file", "{out}"),
                 "selfcheck": ("--output.file", "{out}")}[cmd]
        case(g, name, code, rel, frag, cmd, "{dir}/" + rel, *extra)

    c("unknown_key", "[check]\niteratons = 3\n", "unknown key 'check.iteratons'")
    c("unknown_section", "[selfchek]\nrows = 4\n", "selfchek")
    c("no_equals", "[check]\nrows 4\n", ":2:")
    c("unterminated_section", "[data\nrows = 4\n", ":1:")
    c("empty_section_name", "[]\nrows = 4\n", ":1:")
    c("negative_rows", "[check]\nrows = -4\n", "bad value '-4' for check.rows")
    c("word_for_number", "[check]\nrows = many\n", "bad value 'many' for check.rows")
    c("nan_number", "[check]\ndelay = NaN\n", "bad value 'NaN'")
    c("huge_integer", "[check]\nrows = 99999999999999999999999\n", "check.rows")
    c("empty_value", "[check]\nrows =\n", "check.rows")
    c("binary_garbage", "\x7fELF\x02\x01\x01\x00\x00\x00\n\x00\x00\x00", ":1:")
    c("duplicate_key", "[check]\nrows = 4\nrows = 5\n", "rows")
    c("former_spelling", "rows = 4\n", "it was renamed (did you mean 'rows' in section [check]?)")
    c("train_bad_layer", "[data]\ntrain = x.h5\n[model]\nlayers = flatten, dense -4\n",
      "'dense -4'", cmd="train")
    c("train_bad_loss", "[data]\ntrain = x.h5\n[model]\nloss = cross-entropy-ish\n", "loss",
      cmd="train")
    c("lasso_bad_method", "[input]\nfile = x.h5\n[fit]\nmethod = lassso\n", "lassso", cmd="lasso")
    c("fc_bad_cutoffs", "[input]\ndata = x.h5\n[clusters]\ncutoffs = 3.8, abc\n", "cutoffs",
      cmd="fc")
    c("fc_bad_bool", "[input]\ndata = x.h5\n[clusters]\nsum-rule = perhaps\n", "perhaps",
      cmd="fc")
    c("phonons_bad_unit", "[input]\nfc = x.h5\n[output]\nunit = furlongs\n", "furlongs",
      cmd="phonons")
    put(g + "/a_folder.ini/keep", "")  # a folder named like a configuration file
    case(g, "folder_as_config", 2, g + "/a_folder.ini", "it is a folder", "selfcheck",
         "{dir}/%s/a_folder.ini" % g, "--output.file", "{out}")
    case(g, "missing_config", 2, g + "/no_such.ini", "cannot read configuration file",
         "selfcheck", "{dir}/%s/no_such.ini" % g, "--output.file", "{out}")


# ---------------------------------------------------------------- lasso (A, y) in HDF5
def lasso_cases():
    g = "hdf5-lasso"
    rng = np.random.default_rng(5)
    a = rng.standard_normal((30, 6))
    y = a @ [1, 0, -2, 0, 0, 0.5]
    os.makedirs(os.path.join(HERE, g), exist_ok=True)
    with h5py.File(os.path.join(HERE, g, "good.h5"), "w") as f:
        f["A"], f["y"] = a, y

    def c(name, frag, code=4, extra=(), **ds):
        rel = os.path.join(g, name + ".h5")
        path = os.path.join(HERE, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        d = {"A": a, "y": y}
        d.update(ds)
        with h5py.File(path, "w") as f:
            for k, v in d.items():
                if v is not None:
                    f[k] = v
        case(g, name, code, rel, frag, "lasso", "--input.file", "{dir}/" + rel, "--output.file",
             "{out}", "--fit.lambda-ratio", "0.1", *extra)

    c("no_A", "/A", A=None)
    c("no_y", "/y", y=None)
    c("y_too_short", "/y", y=y[:20])
    c("A_1d", "/A", A=a[:, 0])
    c("A_3d", "/A", A=a.reshape(30, 3, 2))
    c("y_2d", "/y", y=np.stack([y, y], 1))
    c("A_strings", "/A", A=np.array([[b"1"] * 6] * 30))
    c("A_inf", "is not finite", A=np.where(np.arange(180).reshape(30, 6) == 13, np.inf, a))
    c("y_nan", "/y", y=np.where(np.arange(30) == 29, np.nan, y))
    c("A_empty", "is empty", A=np.zeros((0, 6)), y=np.zeros(0))
    c("A_zero", "every one of its 6 columns is zero", A=np.zeros((30, 6)))
    c("groups_wrong_length", "", extra=("--input.groups", "/g", "--fit.task", "cv"),
      g=np.arange(10))
    c("groups_float", "", extra=("--input.groups", "/g", "--fit.task", "cv"), g=np.arange(30) + 0.5)
    c("no_groups_dataset", "/g", extra=("--input.groups", "/g", "--fit.task", "cv"))
    rel = os.path.join(g, "huge_A.h5")
    with h5py.File(os.path.join(HERE, rel), "w") as f:
        f.create_dataset("A", shape=(2**33, 2**20), dtype="f8", chunks=(16, 16))
        f.create_dataset("y", shape=(2**33,), dtype="f8", chunks=(16,))
    case(g, "huge_A", 4, rel, "", "lasso", "--input.file", "{dir}/" + rel, "--output.file",
         "{out}", "--fit.lambda-ratio", "0.1")
    rel = put(g + "/not_hdf5.h5", "A = [[1, 2], [3, 4]]\n")
    case(g, "not_hdf5", 4, rel, "is not an HDF5 file", "lasso", "--input.file", "{dir}/" + rel,
         "--output.file", "{out}")
    for name in ("truncated_half", "corrupt_object_headers"):
        rel = "hdf5-train/%s.h5" % name
        case(g, name, 4, rel, "", "lasso", "--input.file", "{dir}/" + rel, "--output.file",
             "{out}")
        case("inspect", name, 4, rel, "", "inspect", "{dir}/" + rel)
    for name in ("empty_file", "text_file", "truncated_superblock"):
        rel = "hdf5-train/%s.h5" % name
        case("inspect", name, 4, rel, "", "inspect", "{dir}/" + rel)


# ---------------------------------------------------------------- force-constant data (HDF5)
FIT = ("--clusters.cutoffs=3.8", "--fit.method", "ols", "--fit.lambda", "0", "--cv.folds", "0", "--output.file", "{out}",
       "--output.export-dir", "")


def fc_hdf5_cases():
    g = "fc-hdf5"
    fc_h5(g + "/good.h5")

    def c(name, frag, code=4, edit=None, **over):
        rel = fc_h5("%s/%s.h5" % (g, name), edit=edit, **over)
        case(g, name, code, rel, frag, "fc", "--input.data", "{dir}/" + rel, *FIT)

    def set_at(key, index, value):
        def edit(f):
            f[key][index] = value
        return edit

    c("no_lattice", "lattice", structure__lattice=None)
    c("no_positions", "positions", structure__positions=None)
    c("no_numbers", "numbers", structure__numbers=None)
    c("no_displacements", "displacements", configs__displacements=None)
    c("no_forces", "forces", configs__forces=None)
    c("lattice_2x3", "lattice", structure__lattice=SUPER_LAT[:2])
    c("lattice_singular", "lattice", structure__lattice=np.diag([8.0, 8.0, 0.0]))
    c("lattice_nan", "lattice", edit=set_at("structure/lattice", (1, 1), np.nan))
    c("positions_nan", "positions", edit=set_at("structure/positions", (3, 2), np.nan))
    c("positions_short", "", structure__positions=SUPER_POS[:10])
    c("positions_flat", "positions", structure__positions=SUPER_POS.ravel())
    c("numbers_float", "numbers", structure__numbers=np.array(SUPER_Z, float) + 0.5)
    c("numbers_short", "numbers", structure__numbers=np.array(SUPER_Z[:5], np.int32))
    c("number_negative", "atomic number -11 is not an element",
      structure__numbers=np.array([-11] + SUPER_Z[1:], np.int32))
    c("number_200", "atomic number 200 is not an element",
      structure__numbers=np.array(SUPER_Z[:-1] + [200], np.int32))
    c("masses_negative", "masses", structure__masses=-np.ones(NAT))
    c("masses_nan", "masses", edit=set_at("structure/masses", 0, np.nan))
    c("masses_short", "masses", structure__masses=np.ones(3))
    # A cell matrix past int (the fuzzer's find: the cast overflowed) and one not integral.
    c("supercell_matrix_huge", "/structure/supercell_matrix: expected integers",
      structure__supercell_matrix=np.diag([-2.2e9, 2.0, 2.0]))
    c("supercell_matrix_fraction", "/structure/supercell_matrix: expected integers",
      structure__supercell_matrix=np.diag([2.5, 2.0, 2.0]))
    c("displacement_nan", "not finite", edit=set_at("configs/displacements", (2, 3, 1), np.nan))
    c("force_inf", "not finite", edit=set_at("configs/forces", (0, 15, 2), -np.inf))
    c("forces_shape", "forces", configs__forces=F[:, :10])
    c("configs_mismatch", "", configs__forces=F[:4])
    c("displacements_2d", "displacements", configs__displacements=U.reshape(6, -1))
    c("no_configs", "", configs__displacements=np.zeros((0, NAT, 3)),
      configs__forces=np.zeros((0, NAT, 3)))
    c("displacements_int", "displacements", configs__displacements=np.zeros((6, NAT, 3), np.int32))

    def huge(f):
        del f["configs/displacements"], f["configs/forces"]
        f.create_dataset("configs/displacements", shape=(2**40, NAT, 3), dtype="f8",
                         chunks=(1, NAT, 3))
        f.create_dataset("configs/forces", shape=(2**40, NAT, 3), dtype="f8", chunks=(1, NAT, 3))
    c("huge_configs", "", edit=huge)

    def huge_atoms(f):
        del f["structure/positions"], f["structure/numbers"]
        f.create_dataset("structure/positions", shape=(2**36, 3), dtype="f8", chunks=(64, 3))
        f.create_dataset("structure/numbers", shape=(2**36,), dtype="i4", chunks=(64,))
    c("huge_atoms", "", edit=huge_atoms)
    size = os.path.getsize(os.path.join(HERE, g + "/good.h5"))
    rel = truncate(g + "/good.h5", g + "/truncated.h5", size * 2 // 3)
    case(g, "truncated", 4, rel, "", "fc", "--input.data", "{dir}/" + rel, *FIT)
    rel = corrupt(g + "/good.h5", g + "/corrupt.h5", range(200, 1500, 5))
    case(g, "corrupt", 4, rel, "", "fc", "--input.data", "{dir}/" + rel, *FIT)


# ---------------------------------------------------------------- structure files (POSCAR)
def poscar_cases():
    g = "poscar"
    fs = put("force-sets/good_type2", force_sets_type2())

    def c(name, text, frag, code=4):
        rel = put("%s/%s" % (g, name), text)
        case(g, name, code, rel, frag, "import", "force-sets", "--input.file", "{dir}/" + fs,
             "--structure.file", "{dir}/" + rel, "--structure.supercell-matrix", "2 2 2", "--output.file", "{out}")

    put(g + "/POSCAR", poscar())
    c("empty", "", "")
    c("comment_only", "just a comment\n", "")
    c("scale_word", poscar(scale="one"), "")
    c("scale_zero", poscar(scale="0"), "scale factor: 0")
    c("scale_nan", poscar(scale="nan"), "")
    c("lattice_short_row", poscar().replace("4.0000000000 0.0000000000 0.0000000000\n",
                                            "4.0000000000 0.0000000000\n", 1), "lattice vector 1")
    c("lattice_singular", poscar(lat=np.diag([4.0, 4.0, 0.0])), "has no volume")
    c("lattice_inf", poscar(lat=np.diag([4.0, np.inf, 4.0])), "lattice vector 2")
    c("counts_word", poscar(counts="1 one"), "counts")
    c("counts_negative", poscar(counts="1 -1"), "counts")
    c("counts_zero", poscar(counts="0 0"), "counts")
    c("counts_huge", poscar(counts="1 99999999999"), "")
    c("counts_species_mismatch", poscar(counts="1 1 1"), "counts")
    c("species_not_element", poscar(species="Na Qq"), "Qq")
    c("vasp4_no_species", poscar(species=None), "", code=2)
    c("bad_mode", poscar(mode="Fractional-ish"), "coordinate mode")
    c("positions_truncated", poscar(frac=UNIT_FRAC[:1]), "")
    c("position_nan", poscar(frac=[[0, 0, 0], [0.5, np.nan, 0.5]]), "position of atom 2")
    c("position_word", poscar().replace("0.5000000000 0.5000000000 0.5000000000",
                                        "0.5 half 0.5"), "position of atom 2")
    c("selective_truncated", poscar(mode="Selective dynamics"), "")
    c("binary_garbage", "\x00\x01\x02\x03" * 40, "")


# ---------------------------------------------------------------- extended XYZ
def extxyz_cases():
    g = "extxyz"
    struct_rel = "fc-hdf5/good.h5"

    def c(name, text, frag, code=4, own=False):
        rel = put("%s/%s.extxyz" % (g, name), text)
        extra = () if own else ("--structure.file", "{dir}/" + struct_rel)
        case(g, name, code, rel, frag, "import", "extxyz", "--input.file", "{dir}/" + rel, *extra,
             "--output.file", "{out}")

    good = extxyz_frames(GOOD_FRAMES)
    put(g + "/good.extxyz", good)
    lines = good.splitlines()
    c("empty", "", "no configurations")
    c("count_word", "sixteen\n" + "\n".join(lines[1:]) + "\n", "'sixteen' is not a number")
    c("count_negative", "-16\n" + "\n".join(lines[1:]) + "\n", "")
    c("count_huge", "99999999999\n" + "\n".join(lines[1:]) + "\n", "")
    c("count_too_big", "17\n" + "\n".join(lines[1:]) + "\n", "")
    c("no_comment", "16\n", "")
    c("no_lattice", "\n".join([lines[0], 'Properties=species:S:1:pos:R:3:forces:R:3'] +
                              lines[2:]) + "\n", "no Lattice")
    c("lattice_8", good.replace('Lattice="8.0000000000 ', 'Lattice="'), "Lattice needs 9 numbers")
    c("lattice_word", good.replace('Lattice="8.0000000000', 'Lattice="eight', 1), "")
    c("unterminated_quote", "\n".join([lines[0], lines[1].replace('pbc="T T T"', 'pbc="T T T')] +
                                      lines[2:]) + "\n", "unterminated quote")
    c("no_forces", extxyz_frames(GOOD_FRAMES, props="species:S:1:pos:R:3"), "Properties")
    c("truncated_frame", "\n".join(lines[:10]) + "\n", "the file ends after")
    c("short_atom_line", "\n".join(lines[:5] + [" ".join(lines[5].split()[:5])] + lines[6:]) +
      "\n", "")
    c("force_word", good.replace(lines[4].split()[-1], "abc", 1), "")
    c("force_nan", good.replace(lines[4].split()[-1], "nan", 1), "")
    c("position_inf", good.replace(lines[3].split()[1], "inf", 1), "")
    c("unknown_element", good.replace("\nNa ", "\nQq ", 1), "")
    c("wrong_element", good.replace("\nNa ", "\nCl ", 1), "")
    c("atom_off_site", extxyz_frames([(SUPER_POS + np.where(np.arange(NAT)[:, None] == 3, 1.9, 0),
                                       F[0])]), "is nearest to site")
    c("two_atoms_one_site", extxyz_frames([(np.vstack([SUPER_POS[:1], SUPER_POS[:1],
                                                       SUPER_POS[2:]]), F[0])]), "")
    c("lattice_differs", extxyz_frames(GOOD_FRAMES, lattice=SUPER_LAT * 1.1), "", code=2)
    c("own_first_frame_displaced", good, "has no symmetry and no pure translation", code=2,
      own=True)
    c("binary_garbage", "\x00\xff\xfe" * 50, "")


# ---------------------------------------------------------------- ALAMODE DFSET and input
def dfset_cases():
    g = "dfset"
    alm = put(g + "/alm.in", alm_in())
    good = dfset_text()
    put(g + "/DFSET", good)
    lines = good.splitlines()

    def c(name, text, frag, code=4):
        rel = put("%s/%s" % (g, name), text)
        case(g, name, code, rel, frag, "import", "dfset", "--input.file", "{dir}/" + rel,
             "--structure.file", "{dir}/" + alm, "--output.file", "{out}")

    def s(name, text, frag, code=4):
        rel = put("%s/%s.in" % (g, name), text)
        case(g, name, code, rel, frag, "import", "dfset", "--input.file", "{dir}/%s/DFSET" % g,
             "--structure.file", "{dir}/" + rel, "--output.file", "{out}")

    c("empty", "", "no configurations")
    c("comments_only", "# config 0\n# config 1\n", "no configurations")
    c("five_columns", "\n".join(lines[:3] + [" ".join(lines[3].split()[:5])] + lines[4:]) + "\n",
      "expected 6 numbers")
    c("seven_columns", "\n".join(lines[:3] + [lines[3] + " 1.0"] + lines[4:]) + "\n",
      "expected 6 numbers")
    c("word", good.replace(lines[2].split()[0], "abc", 1), "")
    c("nan", good.replace(lines[2].split()[3], "nan", 1), "")
    c("inf", good.replace(lines[2].split()[4], "-inf", 1), "")
    c("not_multiple", "\n".join(lines[:-1]) + "\n", "not a multiple")
    c("fortran_double", good.replace(lines[2].split()[0], "1.0D-03", 1), "")
    s("no_general", alm_in(general=False), "is this a POSCAR?")
    s("no_nat", alm_in(drop="NAT"), "NAT")
    s("nat_word", alm_in(nat="many"), "NAT")
    s("nat_mismatch", alm_in(nat=15), "")
    s("nat_zero", alm_in(nat=0), "")
    s("kd_mismatch", alm_in(nkd=3), "KD")
    s("kd_not_element", alm_in(kd="Na Qq"), "Qq")
    s("mass_missing", alm_in(mass="22.98977"), "MASS")
    s("cell_short", alm_in(cell=["1.8897", "8 0 0", "0 8"]), "")
    s("cell_singular", alm_in(cell=["1.8897", "8 0 0", "0 8 0", "0 0 0"]), "")
    s("kind_out_of_range", alm_in(positions=["3 0 0 0"] + ["1 0.5 0.5 0.5"] * (NAT - 1)),
      "kind 3 is not in 1..2")
    s("position_word", alm_in(positions=["1 0 zero 0"] + ["1 0.5 0.5 0.5"] * (NAT - 1)), "")
    s("no_position_end", alm_in().rsplit("/", 1)[0], "")


# ---------------------------------------------------------------- phonopy YAML and FORCE_SETS
def phonopy_cases():
    g = "phonopy-yaml"
    disp = put(g + "/phonopy_disp.yaml", phonopy_yaml())
    put(g + "/phonopy_params.yaml", phonopy_yaml(with_forces=True))
    fs1 = put("force-sets/good_type1", force_sets_type1())

    def c(name, text, frag, code=4, params=True):
        rel = put("%s/%s.yaml" % (g, name), text)
        if params:
            case(g, name, code, rel, frag, "import", "phonopy", "--input.file", "{dir}/" + rel,
                 "--output.file", "{out}")
        else:
            case(g, name, code, rel, frag, "import", "force-sets", "--input.file", "{dir}/" + fs1,
                 "--structure.file", "{dir}/" + rel, "--output.file", "{out}")

    good = phonopy_yaml(with_forces=True)
    c("empty", "", "")
    c("not_yaml", "phonopy: [unclosed\n  - {\n", "not valid YAML")
    c("scalar_document", "just a string\n", "")
    c("list_document", "- 1\n- 2\n", "")
    c("no_displacements", phonopy_yaml(disp=False), "displacements")
    c("no_forces", phonopy_yaml(), "")
    c("forces_short", good.replace(
        "  forces:\n  - [", "  forces:\n  - [ 1.0, 2.0 ]\n  - [", 1), "forces")
    c("force_nan", good.replace("  forces:\n  - [ ", "  forces:\n  - [ .nan, ", 1).replace(
        "[ .nan, -0", "[ .nan, ", 1), "")
    c("force_word", good.replace("  forces:\n  - [ ", "  forces:\n  - [ abc, ", 1), "")
    c("atom_zero", good.replace("- atom: 1\n", "- atom: 0\n", 1), "atom")
    c("atom_beyond", good.replace("- atom: 9\n", "- atom: 99\n", 1), "atom")
    c("atom_word", good.replace("- atom: 9\n", "- atom: nine\n", 1), "")
    c("displacement_2", good.replace(
        "    [ 0.0100000000000000, 0.0000000000000000, 0.0000000000000000 ]",
        "    [ 0.0100000000000000, 0.0000000000000000 ]", 1), "")
    c("unknown_calculator", phonopy_yaml(with_forces=True, calculator="castep-9000"),
      "castep-9000")
    c("no_supercell", good.split("supercell:\n")[0] + good.split("displacements:")[1]
      .join(["displacements:", ""]) if False else
      good.replace("\nsupercell:\n", "\nnot_the_supercell:\n"), "")
    c("lattice_two_rows", good.replace(
        "unit_cell:\n  lattice:\n  - [ 4.0000000000, 0.0000000000, 0.0000000000 ] # a\n",
        "unit_cell:\n  lattice:\n"), "")
    c("lattice_nan", good.replace("- [ 4.0000000000, 0.0000000000, 0.0000000000 ] # a",
                                  "- [ .nan, 0.0000000000, 0.0000000000 ] # a"), "")
    c("symbol_unknown", good.replace("- symbol: Cl # 1", "- symbol: Qq # 1"), "Qq")
    c("no_symbol", good.replace("- symbol: Cl # 1\n    coordinates",
                                "- coordinates"), "symbol")
    c("coordinates_word", good.replace("coordinates: [ 0.5000000000,", "coordinates: [ half,", 1),
      "")
    c("supercell_matrix_singular", good.replace("- [ 0, 0, 2 ]", "- [ 0, 0, 0 ]"), "")
    c("supercell_matrix_float", good.replace("- [ 0, 0, 2 ]", "- [ 0, 0, 2.5 ]"), "")
    c("supercell_matrix_disagrees", good.replace("- [ 0, 0, 2 ]", "- [ 0, 0, 3 ]"),
      "(determinant 12) make 24")
    c("mass_negative", good.replace("mass: 35.453000", "mass: -35.453000", 1), "")
    c("binary_garbage", "\x00\x01\x02\xff\xfe", "")
    # as the structure of a FORCE_SETS
    c("disp_not_yaml", "supercell: {\n", "not valid YAML", params=False)
    c("disp_no_cells", "phonopy:\n  version: 2.17\n", "", params=False)
    c("disp_symbol_unknown", phonopy_yaml().replace("- symbol: Na # 1", "- symbol: Zz # 1"),
      "Zz", params=False)
    c("disp_displacements_other_run", phonopy_yaml().replace("- atom: 9\n", "- atom: 2\n"), "",
      code=2, params=False)

    g = "force-sets"

    def f(name, text, frag, code=4, structure=disp):
        rel = put("%s/%s" % (g, name), text)
        case(g, name, code, rel, frag, "import", "force-sets", "--input.file", "{dir}/" + rel,
             "--structure.file", "{dir}/" + structure, "--output.file", "{out}")

    t1 = force_sets_type1().splitlines()
    f("empty", "", "empty file")
    f("type1_natoms_mismatch", force_sets_type1(nat=12), "", code=2)
    f("type1_natoms_word", "\n".join(["sixteen"] + t1[1:]) + "\n", "")
    f("type1_count_missing", t1[0] + "\n", "missing the number of displacements")
    f("type1_count_huge", "\n".join([t1[0], "999999999999"] + t1[2:]) + "\n", "")
    f("type1_count_negative", "\n".join([t1[0], "-2"] + t1[2:]) + "\n", "")
    f("type1_count_too_big", "\n".join([t1[0], "3"] + t1[2:]) + "\n", "displacement 3")
    f("type1_atom_zero", force_sets_type1(disp_atoms=(0, 9)), "the displaced atom's number must be a whole number")
    f("type1_atom_beyond", force_sets_type1(disp_atoms=(17, 9)), "the displaced atom's number must be a whole number")
    f("type1_displacement_short", force_sets_type1(edit=lambda l: l[:4] + ["0.01 0.0"] + l[5:]),
      "expected 3 numbers")
    f("type1_force_short", force_sets_type1(edit=lambda l: l[:6] + ["0.1 0.2"] + l[7:]),
      "expected 3 force components")
    f("type1_force_nan", force_sets_type1(edit=lambda l: l[:6] + ["0.1 nan 0.2"] + l[7:]), "")
    f("type1_force_word", force_sets_type1(edit=lambda l: l[:6] + ["0.1 x 0.2"] + l[7:]), "")
    f("type1_truncated", "\n".join(t1[:15]) + "\n", "")
    f("type1_other_run", force_sets_type1(disp_atoms=(1, 2)), "", code=2)
    f("type2_five_columns", force_sets_type2(edit=lambda l: l[:3] + [" ".join(l[3].split()[:5])]
                                             + l[4:]), "expected 6 numbers")
    f("type2_not_multiple", force_sets_type2(edit=lambda l: l[:-1]), "")
    f("type2_nan", force_sets_type2(edit=lambda l: l[:3] + [l[3].replace(l[3].split()[4], "nan")]
                                    + l[4:]), "")
    f("type2_inf", force_sets_type2(edit=lambda l: l[:3] + [l[3].replace(l[3].split()[0], "inf")]
                                    + l[4:]), "")
    f("type2_word", force_sets_type2(edit=lambda l: l[:3] + [l[3].replace(l[3].split()[2], "z")]
                                     + l[4:]), "")
    f("type2_natoms_mismatch", force_sets_type2(nat=15), "")
    f("binary_garbage", "\x00\x01\x02\x03\xff" * 30, "")


# ---------------------------------------------------------------- BORN, FORCE_CONSTANTS, models
def phonons_cases(bin_path):
    g = "fc-model"
    model = g + "/good_fc.h5"
    fcs = g + "/FORCE_CONSTANTS"
    poscar_rel = "poscar/POSCAR"
    sposcar = put(g + "/SPOSCAR", poscar(lat=SUPER_LAT, frac=SUPER_FRAC, counts="8 8"))
    if bin_path:
        tmp = os.path.join(HERE, g, "tmp-exports")
        shutil.rmtree(tmp, ignore_errors=True)
        p = os.path.join(HERE, model)
        if os.path.exists(p):
            os.remove(p)
        subprocess.run([bin_path, "fc", "--input.data", os.path.join(HERE, "fc-hdf5/good.h5"),
                        "--clusters.cutoffs=3.8", "--fit.method", "ols", "--fit.lambda", "0", "--cv.folds", "0",
                        "--output.file", p, "--output.export-dir", tmp, "--output.exports", "phonopy", "--quiet"],
                       check=True)
        # phonopy's compact layout (rows of the 2 primitive atoms, 1 and 9): 8 times smaller
        full = open(os.path.join(tmp, "FORCE_CONSTANTS")).read().splitlines()
        blocks = [full[1 + 4 * b:5 + 4 * b] for b in range(NAT * NAT)]
        keep = [b for b in blocks if b[0].split()[0] in ("1", "9")]
        put(fcs, "\n".join(["   2  %d" % NAT] + [l for b in keep for l in b]) + "\n")
        shutil.rmtree(tmp)
    ph = ("--output.file", "{out}", "--output.figure", "")

    def b(name, lines, frag, code=4):
        rel = put("born/%s" % name, born(lines))
        case("born", name, code, rel, frag, "phonons", "--input.fc", "{dir}/" + model, "--nac.born",
             "{dir}/" + rel, *ph)

    put("born/BORN", born(GOOD_BORN))
    b("empty", [], "the BORN file is empty")
    b("blank_lines", ["", "  ", ""], "")
    b("factor_zero", ["0"] + GOOD_BORN[1:], "must be a positive number")
    b("factor_nan", ["nan"] + GOOD_BORN[1:], "")
    b("dielectric_short", [GOOD_BORN[0], "2.0 0 0 0 2.0 0 0 0"] + GOOD_BORN[2:], "")
    b("dielectric_word", [GOOD_BORN[0], "2.0 0 0 0 two 0 0 0 2.0"] + GOOD_BORN[2:], "")
    b("dielectric_nan", [GOOD_BORN[0], "nan 0 0 0 2.0 0 0 0 2.0"] + GOOD_BORN[2:], "")
    b("dielectric_inf", [GOOD_BORN[0], "inf 0 0 0 inf 0 0 0 inf"] + GOOD_BORN[2:], "")
    b("dielectric_negative", [GOOD_BORN[0], "-2.0 0 0 0 -2.0 0 0 0 -2.0"] + GOOD_BORN[2:],
      "positive definite", code=4)
    b("dielectric_asymmetric", [GOOD_BORN[0], "2.0 0 0 0 3.0 0 0 0 2.0"] + GOOD_BORN[2:],
      "breaks the crystal's symmetry", code=2)
    b("charge_short", GOOD_BORN[:2] + ["1.1 0 0 0 1.1 0 0 0"] + GOOD_BORN[3:], "")
    b("charge_nan", GOOD_BORN[:2] + ["1.1 0 0 0 nan 0 0 0 1.1"] + GOOD_BORN[3:], "")
    b("charge_word", GOOD_BORN[:3] + ["-1.1 0 0 0 -1.1 0 0 0 minus"], "")
    b("charges_missing", GOOD_BORN[:3], "")
    b("charges_extra", GOOD_BORN + ["0 0 0 0 0 0 0 0 0"], "one line too many")
    b("binary_garbage", ["\x00\x01\x02\xff"], "")
    # BORN given to fc
    for name in ("charge_nan", "dielectric_short"):
        rel = "born/" + name
        case("born", "fc_" + name, 4, rel, "", "fc", "--input.data", "{dir}/fc-hdf5/good.h5", "--nac.born",
             "{dir}/" + rel, *FIT)

    # phonopy FORCE_CONSTANTS text (phonons --input.fc with --structure.file; fc --configs.reference-fc2)
    good = open(os.path.join(HERE, fcs)).read() if os.path.exists(os.path.join(HERE, fcs)) else ""
    lines = good.splitlines()

    def t(name, text, frag, code=4):
        rel = put("fc-text/%s" % name, text)
        case("fc-text", name, code, rel, frag, "phonons", "--input.fc", "{dir}/" + rel, "--structure.file",
             "{dir}/" + sposcar, *ph)

    t("empty", "", "")
    t("header_word", "\n".join(["sixteen 16"] + lines[1:]) + "\n", "")
    t("header_mismatch", "\n".join(["2 12"] + lines[1:]) + "\n", "2 x 12 atoms", code=2)
    t("header_huge", "\n".join(["99999999 99999999"] + lines[1:]) + "\n", "", code=2)
    t("truncated", "\n".join(lines[:50]) + "\n", "the file ends early")
    t("pair_index_beyond", "\n".join(lines[:1] + ["1 99"] + lines[2:]) + "\n", "")
    t("value_nan", "\n".join(lines[:2] + ["nan 0.0 0.0"] + lines[3:]) + "\n", "")
    t("value_word", "\n".join(lines[:2] + ["x 0.0 0.0"] + lines[3:]) + "\n", "")
    t("row_short", "\n".join(lines[:2] + ["1.0 0.0"] + lines[3:]) + "\n", "")
    rel = "fc-text/value_nan"
    case("fc-text", "reference_fc2_nan", 4, rel, "", "fc", "--input.data", "{dir}/fc-hdf5/good.h5",
         "--configs.reference-fc2", "{dir}/" + rel, "--configs.test", "2", *FIT)
    rel = "fc-text/truncated"
    case("fc-text", "reference_fc2_truncated", 4, rel, "the file ends early", "fc", "--input.data",
         "{dir}/fc-hdf5/good.h5", "--configs.reference-fc2", "{dir}/" + rel, "--configs.test", "2", *FIT)
    # the structure given to phonons
    rel = "poscar/lattice_singular"
    case("fc-text", "structure_singular", 4, rel, "", "phonons", "--input.fc", "{dir}/" + fcs,
         "--structure.file", "{dir}/" + rel, *ph)

    # physfit's force-constant model (phonons --input.fc)
    def m(name, frag, edit=None, rel=None, code=4):
        if rel is None:
            rel = "%s/%s.h5" % (g, name)
            shutil.copy(os.path.join(HERE, model), os.path.join(HERE, rel))
            with h5py.File(os.path.join(HERE, rel), "r+") as f:
                edit(f)
        case(g, name, code, rel, frag, "phonons", "--input.fc", "{dir}/" + rel, *ph)

    if os.path.exists(os.path.join(HERE, model)):
        with h5py.File(os.path.join(HERE, model), "r") as f:
            names = []
            f.visit(names.append)
        fc2 = next(n for n in names if n.endswith("fc2") or "force_constants" in n)

        def setnan(f):
            d = f[fc2]
            v = d[...]
            v.flat[7] = np.nan
            d[...] = v

        def reshape(f):
            v = f[fc2][...]
            del f[fc2]
            f[fc2] = v.ravel()[:-9]
        m("fc2_nan", "", setnan)
        m("fc2_shape", "", reshape)
        m("no_fc2", "", lambda f: f.__delitem__(fc2))
        m("no_structure", "", lambda f: f.__delitem__("structure"))
        size = os.path.getsize(os.path.join(HERE, model))
        m("truncated", "", rel=truncate(model, g + "/truncated.h5", size // 2))
        m("lasso_file", "", rel="hdf5-lasso/A_inf.h5")
        m("training_data", "", rel="hdf5-train/good.h5")


DROP = {
    "hdf5-train/truncated_last_byte", "hdf5-train/corrupt_signature", "hdf5-train/classes_negative",
    "hdf5-train/features_rank5", "hdf5-train/labels_2d", "hdf5-train/features_inf",
    "hdf5-model/predict_truncated_half", "hdf5-model/predict_float_labels",
    "hdf5-model/evaluate_scale_nan", "hdf5-model/predict_features_nan",
    "hdf5-model/predict_parameter_inf", "hdf5-model/predict_no_parameters",
    "hdf5-model/predict_parameters_too_few", "hdf5-model/predict_not_a_model",
    "hdf5-model/predict_empty_model", "inspect/truncated_half", "inspect/text_file",
    "idx/short_magic.idx", "idx/labels_inf.idx", "fc-hdf5/no_positions", "fc-hdf5/no_numbers",
    "fc-hdf5/masses_short", "fc-hdf5/displacements_int", "fc-hdf5/forces_shape",
    "poscar/comment_only", "poscar/lattice_inf", "poscar/counts_zero", "extxyz/count_too_big",
    "extxyz/force_word", "extxyz/position_inf", "dfset/seven_columns", "dfset/inf",
    "dfset/nat_zero", "phonopy-yaml/list_document", "phonopy-yaml/atom_word",
    "phonopy-yaml/coordinates_word", "force-sets/type1_force_word", "force-sets/type2_inf",
    "force-sets/type2_word", "born/dielectric_inf", "born/charge_word", "ini/fc_bad_bool",
    "csv/hex_garbage", "csv/extra_field", "hdf5-lasso/A_3d",
}


# Fragments of the messages of the cases made above without one: pinned from what physfit
# says (run each case once and take the text that names the problem), so that a message that
# loses its meaning fails the runner.
PINNED = {
    "hdf5-train/truncated_half": "the file is truncated (1144 bytes of the 2288",
    "hdf5-train/truncated_superblock": "the file is damaged (HDF5: ring type mismatch",
    "hdf5-train/corrupt_superblock": "the file is damaged (HDF5: bad flag value for",
    "hdf5-train/corrupt_object_headers": "the file is damaged (HDF5: bad object header",
    "hdf5-train/huge_dimensions": "declares shape [1099511627776, 28, 28] (784.0",
    "hdf5-model/evaluate_truncated_half": "the file is truncated (1144 bytes of the 2288",
    "hdf5-model/not_a_model": "holds no model (no group '/model'); give a file",
    "hdf5-model/truncated_model": "the file is truncated (11648 bytes of the 23296",
    "hdf5-model/predict_truncated_model": "the file is truncated (11648 bytes of the 23296",
    "idx/empty.idx": "is not an IDX file: it does not start with the",
    "idx/bad_magic_prefix.idx": "is not an IDX file: it does not start with the",
    "idx/huge_dimensions.idx": "the IDX header declares dimensions of more than",
    "idx/corrupt.idx.gz": "invalid distance too far back",
    "idx/truncated.idx.gz": "truncated IDX header",
    "idx/labels_huge.idx": ", label 2: 2147483648.000000 (IDX type int32)",
    "idx/labels_2d.idx": "expected one label per image (4), found shape",
    "idx/labels_empty.idx": "is not an IDX file: it does not start with the",
    "hdf5-lasso/groups_wrong_length": "has 10 rows but '/A' has 30",
    "hdf5-lasso/groups_float": "has type float64; group ids must be integers",
    "hdf5-lasso/huge_A": "declares shape [8589934592, 1048576] (65536.0",
    "hdf5-lasso/truncated_half": "the file is truncated (1144 bytes of the 2288",
    "hdf5-lasso/corrupt_object_headers": "the file is damaged (HDF5: bad object header",
    "inspect/corrupt_object_headers": "the file is damaged (HDF5: bad object header",
    "inspect/empty_file": "is not an HDF5 file",
    "inspect/truncated_superblock": "the file is damaged (HDF5: ring type mismatch",
    "fc-hdf5/positions_short": "has shape [16], expected [10]",
    "fc-hdf5/configs_mismatch": "has shape [4, 16, 3], expected [6, 16, 3]",
    "fc-hdf5/no_configs": "holds no configurations: import displaced",
    "fc-hdf5/huge_configs": "declares shape [1099511627776, 16, 3] (384.0",
    "fc-hdf5/huge_atoms": "declares shape [68719476736, 3] (1.5 TiB) but",
    "fc-hdf5/truncated": "the file is truncated (8533 bytes of the 12800",
    "fc-hdf5/corrupt": "no dataset '/structure/lattice' in",
    "poscar/empty": "empty file (expected a VASP POSCAR)",
    "poscar/scale_word": "scale factor: expected 1 number (negative: the",
    "poscar/scale_nan": "scale factor: expected 1 number (negative: the",
    "poscar/counts_huge": "counts: '99999999999' atoms, but the file has",
    "poscar/vasp4_no_species": "this VASP 4 POSCAR has no species line and 2",
    "poscar/positions_truncated": "the file ends before the position of atom 2 of",
    "poscar/selective_truncated": "coordinate mode: expected Direct or Cartesian",
    "poscar/binary_garbage": "the file ends before the scale factor (a POSCAR",
    "extxyz/count_negative": "the number of atoms must be a whole number from",
    "extxyz/count_huge": "the number of atoms must be a whole number from",
    "extxyz/no_comment": "missing comment line",
    "extxyz/lattice_word": "Lattice: 'eight' is not a number",
    "extxyz/short_atom_line": "5 columns, Properties declares 7",
    "extxyz/force_nan": "value 'nan' is not finite",
    "extxyz/unknown_element": "configuration 1 (line 1): unknown element 'Qq'",
    "extxyz/wrong_element": "configuration 1 (line 1), atom 1 (Z = 17) is",
    "extxyz/two_atoms_one_site": "configuration 1 (line 1), atom 2 and atom 1",
    "extxyz/lattice_differs": "configuration 1 (line 1): its lattice differs",
    "extxyz/binary_garbage": "is not a number",
    "dfset/word": "abc' is not a number",
    "dfset/nan": "value 'nan' is not finite",
    "dfset/fortran_double": "1.0D-03' is not a number",
    "dfset/nat_mismatch": "&position has 16 atoms, NAT = 15",
    "dfset/cell_short": "&cell: expected the lattice factor (Bohr) on",
    "dfset/cell_singular": "the lattice is singular or not finite",
    "dfset/position_word": "&position coordinates: 'zero' is not a finite",
    "dfset/no_position_end": "&position is not closed by a line '/'",
    "phonopy-yaml/empty": "not a phonopy YAML file (no top-level mapping)",
    "phonopy-yaml/scalar_document": "not a phonopy YAML file (no top-level mapping)",
    "phonopy-yaml/no_forces": "orce-sets --input.file FORCE_SETS --structure.file",
    "phonopy-yaml/force_nan": "displacements[1].forces[1]: expected a list of",
    "phonopy-yaml/force_word": "displacements[1].forces[1]: expected a list of",
    "phonopy-yaml/displacement_2": "displacements[1].displacement: expected a list",
    "phonopy-yaml/no_supercell": "displacements: the file has no 'supercell'",
    "phonopy-yaml/lattice_two_rows": "unit_cell.lattice: expected 3 rows of 3 numbers",
    "phonopy-yaml/lattice_nan": "unit_cell.lattice: '.nan' is not finite",
    "phonopy-yaml/supercell_matrix_singular": "supercell_matrix: 2 0 0; 0 2 0; 0 0 0 has no",
    "phonopy-yaml/supercell_matrix_float": "supercell_matrix: expected integers",
    "phonopy-yaml/mass_negative": "primitive_cell.points[2].mass: -35.453000 is",
    "phonopy-yaml/binary_garbage": "not a phonopy YAML file (no top-level mapping)",
    "phonopy-yaml/disp_no_cells": "scale factor: expected 1 number (negative: the",
    "phonopy-yaml/disp_displacements_other_run": "s: they are not from the same phonopy run",
    "force-sets/type1_natoms_mismatch": "12 atoms, but the structure has 16",
    "force-sets/type1_natoms_word": "sixteen' is not a number",
    "force-sets/type1_count_huge": "the number of displacements must be a whole",
    "force-sets/type1_count_negative": "the number of displacements must be a whole",
    "force-sets/type1_force_nan": "value 'nan' is not finite",
    "force-sets/type1_truncated": "displacement 1 of 2 is incomplete",
    "force-sets/type1_other_run": "displacement 2 (atom 2) differs from",
    "force-sets/type2_not_multiple": "47 data lines are not a multiple of the 16 atoms",
    "force-sets/type2_nan": "value 'nan' is not finite",
    "force-sets/type2_natoms_mismatch": "45 data lines are not a multiple of the 16 atoms",
    "force-sets/binary_garbage": "is not a number",
    "born/blank_lines": "the BORN file is empty",
    "born/factor_nan": "field 1 (the unit factor) is 'nan'; it must be",
    "born/dielectric_short": "expected the dielectric tensor, 9 numbers (xx",
    "born/dielectric_word": "field 5 (yy of the dielectric tensor) is 'two'",
    "born/dielectric_nan": "field 1 (xx of the dielectric tensor) is 'nan'",
    "born/charge_short": "expected the Born charge of atom 1 (Z = 11), 9",
    "born/charge_nan": "field 5 (yy of the Born charge of atom 1 (Z =",
    "born/charges_missing": "the file ends after line 3: the primitive cell",
    "born/binary_garbage": "the file ends after line 1; line 2 must hold",
    "born/fc_charge_nan": "field 5 (yy of the Born charge of atom 1 (Z =",
    "born/fc_dielectric_short": "expected the dielectric tensor, 9 numbers (xx",
    "fc-text/empty": "the file ends early",
    "fc-text/header_word": "expected the numbers of atoms",
    "fc-text/header_huge": "force constants of 99999999 x 99999999 atoms",
    "fc-text/pair_index_beyond": "expected two atom indices 1..16, got '1 99'",
    "fc-text/value_nan": "expected 3 finite numbers, got 'nan 0.0 0.0'",
    "fc-text/value_word": "expected 3 finite numbers, got 'x 0.0 0.0'",
    "fc-text/row_short": "expected 3 finite numbers, got '1.0 0.0'",
    "fc-text/reference_fc2_nan": "expected 3 finite numbers, got 'nan 0.0 0.0'",
    "fc-text/structure_singular": "lattice vectors: the cell has no volume",
    "fc-model/fc2_nan": "/fc/force_constants has a non-finite value",
    "fc-model/fc2_shape": "has shape [2295], expected [16, 16, 3, 3]",
    "fc-model/no_fc2": "no dataset '/fc/force_constants' in",
    "fc-model/no_structure": "no dataset '/structure/lattice' in",
    "fc-model/truncated": "the file is truncated (21868 bytes of the 43736",
    "fc-model/lasso_file": "no dataset '/structure/lattice' in",
    "fc-model/training_data": "no dataset '/structure/lattice' in",
}


def main():
    bin_path = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
    for sub in os.listdir(HERE):
        if os.path.isdir(os.path.join(HERE, sub)):
            shutil.rmtree(os.path.join(HERE, sub))
    hdf5_training(bin_path)
    idx_cases()
    csv_cases()
    ini_cases()
    lasso_cases()
    fc_hdf5_cases()
    poscar_cases()
    extxyz_cases()
    dfset_cases()
    phonopy_cases()
    phonons_cases(bin_path)
    # Near-duplicates left out to keep the suite cheap (each case costs two launches).
    kept = [c for c in CASES if c[0] not in DROP]
    assert len(kept) == len(CASES) - len(DROP), set(DROP) - {c[0] for c in CASES}
    CASES[:] = kept
    used = set()
    for c in CASES:
        used.add(c[3])
        used.update(a.split("{dir}/", 1)[1] for a in shlex.split(c[5]) if "{dir}/" in a)
    for d, _, files in os.walk(HERE):
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), HERE)
            if "/" in rel and not any(rel == u or rel.startswith(u + "/") for u in used):
                os.remove(os.path.join(d, name))
    with open(os.path.join(HERE, "cases.tsv"), "w") as f:
        f.write("# id\tcode\tfile\tfragment\tcommand (see make_corpus.py; {dir} = tests/corpus, "
                "{out} = an existing output file)\n")
        ids = set()
        for cid, group, code, culprit, fragment, args in CASES:
            assert cid not in ids, cid
            fragment = fragment or PINNED[cid]
            ids.add(cid)
            f.write("%s\t%d\t%s\t%s\t%s\n" % (cid, code, culprit, fragment, args))
    print(len(CASES), "cases")


if __name__ == "__main__":
    main()
