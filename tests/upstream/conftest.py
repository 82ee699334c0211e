"""The vendored suites are run by tests/upstream/test_*.py in a subprocess of their own (they
start servers on fixed addresses), never collected into this one."""

collect_ignore_glob = ["greenstalk/*"]
