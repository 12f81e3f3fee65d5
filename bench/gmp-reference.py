"""GMP reference timings for bench/math.ts, same inputs; reads cases as JSON on stdin.

Input: [{"op": "fibonacci" | "factorial" | "power", "n": int}, ...] (power means 7**n).
Output on stdout: {"gmp": version, "results": [{"firstMs", "computeMs", "strMs", "cpuMs", "digits"}, ...]} in
input order. firstMs and cpuMs are the wall and process CPU time of the first compute + str in this fresh
process (what a cold API call compares with); computeMs and strMs are best-of-several repeats, which run
on memory the first call already mapped and so are faster (wall times can be inflated by a busy machine).
"""

import json
import sys
import time

import gmpy2

COMPUTE = {
    "fibonacci": gmpy2.fib,
    "factorial": gmpy2.fac,
    "power": lambda n: gmpy2.mpz(7) ** n,
}


def best_ms(fn):
    """Single run for slow cases; best of several within ~0.2 s for fast ones, like the JS side."""
    start = time.perf_counter()
    value = fn()
    best = time.perf_counter() - start
    spent = best
    runs = 1
    while best < 0.02 and spent < 0.2 and runs < 20:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        runs += 1
    return value, best * 1000


def main():
    results = []
    for case in json.load(sys.stdin):
        compute = COMPUTE[case["op"]]
        n = case["n"]
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        str(compute(n))
        first_ms = (time.perf_counter() - wall_start) * 1000
        cpu_ms = (time.process_time() - cpu_start) * 1000
        value, compute_ms = best_ms(lambda: compute(n))
        text, str_ms = best_ms(lambda: str(value))
        results.append(
            {"firstMs": first_ms, "computeMs": compute_ms, "strMs": str_ms, "cpuMs": cpu_ms, "digits": len(text)}
        )
    json.dump({"gmp": gmpy2.mp_version(), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
