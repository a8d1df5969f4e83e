# Entry points that are not scripts/: the benchmark harness (bench/Makefile, bench/README.md).
.PHONY: bench bench-smoke
bench bench-smoke:
	$(MAKE) -f bench/Makefile $@
