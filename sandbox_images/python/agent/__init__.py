"""The sandbox agent, v2: verdicts a program cannot forge or touch.

Processes of a container (docs/security.md has the guarantees and the attacks that test
them):

    P  agent      root + CAP_SETUID/SETGID/KILL, not dumpable   boot, serve, hub, run, verdicts
    Z  zygote     forked by P before any request or P import    zygote, rlimits
    H  harness    one per test suite, uid of its own            harness, suite, proxy
    X  program    one per session or stdio case, run uid        program, xserver

Only P judges: from files it reads itself (stdio), from H's reports (assert and call
tests; H never runs program code), and from the kernel (wait status, CPU time). The
expected answers never enter a process that runs program code. Stdlib only.
"""

VERSION = "2"
