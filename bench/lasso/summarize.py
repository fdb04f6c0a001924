#!/usr/bin/python3
"""Markdown tables from bench/lasso/run.sh's results.jsonl: physfit vs scikit-learn, ratios of
CPU seconds (the comparable figure on a shared machine) and of wall seconds, with the load
average around each run. The latest record of each kind wins.

    summarize.py results.jsonl
"""
import json
import sys


def main():
    recs = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
    peak = max((r["fp64_peak_gflops"] for r in recs if r["task"] == "peak"), default=float("nan"))
    latest = {}
    for r in recs:
        lr = r.get("lambda_ratio")
        bench = r["bench"] + ("-residual" if r.get("mode") == "residual" else "")
        latest[(bench, r.get("problem", ""), r["task"], lr, r.get("ranks", 1))] = r
    problems = sorted({k[1] for k in latest if k[1] and k[2] != "peak"})

    def get(bench, prob, task, lr=None, ranks=1):
        return latest.get((bench, prob, task, lr, ranks))

    def load(*rs):
        vals = [v for r in rs if r for v in (r.get("load_before"), r.get("load_after")) if v is not None]
        return "%.1f-%.1f" % (min(vals), max(vals)) if vals else "-"

    def t(r):
        if not r:
            return "-"
        if "wall_s" not in r:
            return "killed after %.0f s CPU" % r.get("killed_after_cpu_s", 0)
        return "%.3g (%.3g)" % (r["wall_s"], r["cpu_s"])

    def ratio(a, b):
        if not a or not b or "cpu_s" not in a or "cpu_s" not in b:
            return "-"
        return "%.1fx (%.1fx)" % (b["wall_s"] / a["wall_s"], b["cpu_s"] / a["cpu_s"])

    print("FP64 peak of one core (24 FMA chains, CPU time): %.1f GFLOP/s\n" % peak)
    print("Times: wall s (CPU s). Ratios: peer / physfit, wall (CPU).\n")
    print("## Gram formation A^T A (n p^2 useful flops), 1 thread\n")
    print("| problem | n x p | physfit | G(np^2)/s wall (CPU) | % of peak (CPU) | scikit-learn A.T@A | G(np^2)/s wall (CPU) | ratio | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in problems:
        a, b = get("physfit", p, "gram"), get("sklearn", p, "gram")
        if not a:
            continue
        n, m = a["rows"], a["cols"]
        g = n * m * m / 1e9
        row = [p, "%d x %d" % (n, m), t(a), "%.1f (%.1f)" % (g / a["wall_s"], g / a["cpu_s"]),
               "%.0f %%" % (100 * g / a["cpu_s"] / peak), t(b),
               "%.1f (%.1f)" % (g / b["wall_s"], g / b["cpu_s"]) if b and "wall_s" in b else "-",
               ratio(a, b), load(a, b)]
        print("| " + " | ".join(row) + " |")
    print("\n## One lambda (Gram + solve; physfit tol 1e-10 on gap/P, scikit-learn tol 1e-10)\n")
    print("| problem | lambda/lambda_max | physfit (Gram mode) | / its Gram (CPU) | rel. gap | physfit residual mode | rel. gap | sklearn precompute=True | rel. gap | ratio Gram mode | ratio residual mode | sklearn precompute=False | ratio (Gram mode) | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in problems:
        g = get("physfit", p, "gram")
        for lr in (0.1, 0.01):
            a = get("physfit", p, "fit", lr)
            ar = get("physfit-residual", p, "fit", lr)
            b, c = get("sklearn", p, "fit", lr), get("sklearn", p, "nogram", lr)
            if not a:
                continue
            row = [p, "%g" % lr, t(a), "%.2f" % (a["cpu_s"] / g["cpu_s"]) if g else "-",
                   "%.1e" % a["detail"]["relative_gap"], t(ar),
                   "%.1e" % ar["detail"]["relative_gap"] if ar else "-", t(b),
                   "%.1e" % b["relative_gap"] if b and "relative_gap" in b else "-", ratio(a, b),
                   ratio(ar, b), t(c), ratio(a, c), load(a, ar, b, c)]
            print("| " + " | ".join(row) + " |")
    print("\n## 100-lambda path (lambda_max .. 1e-4 lambda_max) and 5-fold CV on it\n")
    print("| problem | task | physfit | max rel. gap | scikit-learn | rel. gap (sampled max / last) | ratio | load |")
    print("|---|---|---|---|---|---|---|---|")
    for p in problems:
        a, b = get("physfit", p, "path"), get("sklearn", p, "path")
        if a:
            gb = "%.1e / %.1e" % (b["max_relative_gap_sampled"], b["relative_gap_last"]) if b and "wall_s" in b else "-"
            print("| %s | lasso_path | %s | %.1e | %s | %s | %s | %s |" % (
                p, t(a), a["detail"]["max_relative_gap"], t(b), gb, ratio(a, b), load(a, b)))
        a, b = get("physfit", p, "cv"), get("sklearn", p, "cv")
        if a:
            print("| %s | LassoCV | %s | %.1e | %s | - | %s | %s |" % (
                p, t(a), a["detail"]["max_relative_gap_full_path"], t(b), ratio(a, b), load(a, b)))
    print("\n## Ranks on the tall problem (one lambda, Gram + solve, 1 thread per rank)\n")
    print("| ranks | wall s | CPU s (max over ranks) | Gram s | speed-up (wall) | load |")
    print("|---|---|---|---|---|---|")
    one = None
    for r in sorted((v for k, v in latest.items() if k[0] == "physfit" and k[1] == "tall" and k[2] == "fit" and k[3] == 0.01),
                    key=lambda v: v["ranks"]):
        one = one or r
        print("| %d | %.3g | %.3g | %.3g | %.2fx | %s |" % (r["ranks"], r["wall_s"], r["cpu_s"], r["detail"]["gram_s"],
                                                         one["wall_s"] / r["wall_s"], load(r)))


if __name__ == "__main__":
    main()
