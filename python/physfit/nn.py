"""Neural networks on numpy arrays: the engine and the options of ``physfit train``,
``physfit evaluate`` and ``physfit predict`` (docs/commands/train.md), with the same results to
the bit.

    r = physfit.nn.train(X, y, {"model.layers": "dense 64 relu, dense 10",
                                "optimizer.learning-rate": 0.01}, train_epochs=5)
    r.history["loss"], r.model.predict(X_test).scores, r.model.evaluate(X_test, y_test).accuracy

Options are those of ``physfit train``: a dict of its keys (``{"train.epochs": 5}``), the path
of an INI file as the command reads it, and/or keyword arguments (the key with ``.`` and ``-``
written ``_``: ``optimizer_learning_rate``); keyword arguments win over the dict and the file,
as the command line wins over the file. ``options()`` lists them with their defaults.

Under MPI (``mpirun -np N python3 script.py``) every rank passes its own rows; the global rows
are rank 0's, then rank 1's, and so on, and the results are the same bits as one process
given all rows in that order (and as ``physfit train`` on a file holding them in that order).
"""

import difflib
import numbers

from . import _physfit

__all__ = ["train", "load", "options", "Model", "Result"]

# key -> (type, default text or None, help), in the command's order
_OPTIONS = {key: (typ, default, text) for key, typ, default, text in _physfit.nn_options()}


def _name(key):
    return key.replace(".", "_").replace("-", "_")


_KEY_OF = {_name(key): key for key in _OPTIONS}


def options():
    """{key: (type, default as the command writes it or None, help)} of every option (keys as
    in an INI file and a dict: ``"optimizer.learning-rate"``; keyword: ``_`` for ``.`` and
    ``-``)."""
    return dict(_OPTIONS)


class Result(dict):
    """A dict whose keys are also attributes (``r.history`` is ``r["history"]``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(self.keys())


def _text(key, value):
    """A value as the command line would spell it."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # the shortest text that reads back to the same double
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ", ".join(value)  # model.layers as a list of layer texts
    raise TypeError("physfit.nn: %s = %r: expected a number, a bool, a string or a list of "
                    "strings" % (key, value))


def _unknown(word, known):
    close = difflib.get_close_matches(word, list(known), n=1)
    return "unknown option '%s'%s (physfit.nn.options() lists them)" % (
        word, " (did you mean '%s'?)" % close[0] if close else "")


def _arguments(config, kwargs):
    """(command-line arguments, INI path or "") of a config (dict, path or None) and keywords."""
    given, ini = {}, ""  # key -> text; a keyword replaces the dict's value of its key
    if isinstance(config, dict):
        for key, value in config.items():
            if not isinstance(key, str) or key not in _OPTIONS:
                if isinstance(key, str) and _KEY_OF.get(key):
                    key = _KEY_OF[key]  # a keyword name used as a dict key
                else:
                    raise ValueError("physfit.nn: " + _unknown(str(key), _OPTIONS))
            given[key] = _text(key, value)
    elif isinstance(config, (str, bytes)) or hasattr(config, "__fspath__"):
        import os
        ini = os.fsdecode(config)
    elif config is not None:
        raise TypeError("physfit.nn: config must be a dict of options, the path of an INI file, "
                        "or None; it is a %s" % type(config).__name__)
    for name, value in kwargs.items():
        key = _KEY_OF.get(name)
        if key is None:
            raise TypeError("physfit.nn: " + _unknown(name, _KEY_OF).replace(
                "unknown option", "unknown keyword argument"))
        given[key] = _text(name, value)
    args = []
    for key, text in given.items():
        args += ["--" + key, text]
    return args, ini


class Model:
    """A trained network: from ``train()`` or ``load()``. Every method is **collective** under
    MPI (every rank calls it, with its own rows)."""

    def __init__(self, network):
        self._net = network

    layers = property(lambda self: list(self._net.layers), doc="layer texts, as saved")
    input_shape = property(lambda self: self._net.input_shape, doc="(H, W, C) of one sample")
    loss = property(lambda self: self._net.loss, doc="the loss's name")
    classification = property(lambda self: self._net.classification)
    outputs = property(lambda self: self._net.outputs, doc="scores per sample")
    parameters = property(lambda self: self._net.parameters,
                          doc="all parameters, float32 (the file's /model/parameters)")
    history = property(lambda self: self._net.history, doc="{metric: per-epoch float64 array}")
    epochs_done = property(lambda self: self._net.epochs_done)
    config = property(lambda self: self._net.config, doc="effective configuration (INI text)")

    def predict(self, X):
        """Scores of this rank's rows of X (``physfit predict``'s /scores rows): Result with
        ``scores`` (float32 [rows, outputs]) and ``predicted`` (int32 class of the largest
        score; None for regression)."""
        return Result(self._net.predict(X))

    def evaluate(self, X, y):
        """Loss and accuracy (classification) or RMSE and MAE (regression) over every rank's
        rows, the same on every rank (``physfit evaluate``'s numbers): Result with loss,
        accuracy or rmse and mae, samples."""
        return Result(self._net.evaluate(X, y))

    def save(self, path):
        """Writes the training file ``physfit train`` writes (model, optimiser state, history;
        provenance command "python: physfit.nn.Model.save"), atomically; never over an input
        or anything but a regular file."""
        self._net.save(str(path), "python: physfit.nn.Model.save")

    def __repr__(self):
        return "physfit.nn.Model(%s; %s, %d outputs)" % (", ".join(self.layers), self.loss,
                                                        self.outputs)


def load(path):
    """The model of a training file written by ``physfit train`` or by Python. **Collective**."""
    return Model(_physfit.nn_load(str(path)))


def train(X=None, y=None, config=None, *, X_val=None, y_val=None, callback=None, verbose=False,
          **kwargs):
    """Trains a network as ``physfit train`` does and returns a Result: ``model`` (Model),
    ``history`` ({metric: float64 array per epoch}, the file's /history), ``epochs_done``,
    ``stopped`` (the callback stopped it), ``rows``, ``validation_rows``, ``output`` (the file
    written, or None), ``config``.

    X: features, [rows, F], [rows, H, W] or [rows, H, W, C], float32, float64 (rounded to
    float32) or uint8; y: int labels 0..classes-1 (classification losses; classes = the last
    layer's outputs) or float targets [rows] / [rows, T] (``model.loss = mse``). Instead of
    X, y: ``data_train`` (a dataset file). Validation: X_val, y_val, or ``data_validation``,
    or ``data_validation_split`` (the last rows of the global order).

    callback(epoch, loss, metrics) runs on every rank after each epoch (metrics: accuracy or
    rmse and mae, val_*, samples_per_s, time_s); returning False on any rank stops the training
    on every rank after that epoch (Result.stopped); an exception stops it on every rank and is
    raised again (on the other ranks: RuntimeError naming the rank).

    The model file is written only when ``output_model`` is given (dict, file or keyword), with
    the command's checkpoints (``output_checkpoint_every``) and rules. **Collective**.
    """
    args, ini = _arguments(config, kwargs)
    d = _physfit.nn_train(X, y, X_val, y_val, args, ini, callback, bool(verbose))
    r = Result(d)
    r["model"] = Model(d["model"])
    return r
