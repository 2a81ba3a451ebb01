# tfrewrite — the README's two commands are `make demo` and `make test`.
.PHONY: demo test bench fixtures proto clean fuzz fuzz-replay test-asan static wheel test-wheel

demo:        ## install what is missing, build, repair the bundled micro_speech fixture
	scripts/demo.sh

test:        ## Swift unit tests + conformance on the real LiteRT and TFLM interpreters
	scripts/test.sh

bench:       ## benchmarks (whole-process time and peak RSS); see Docs/performance.md
	scripts/bench.sh

fixtures:    ## regenerate Fixtures/ (needs a venv with tensorflow-cpu: TF_PYTHON=...)
	$${TF_PYTHON:-python3} Fixtures/generate.py

proto:       ## regenerate the protobuf-c code from Sources/TFProto/proto
	scripts/regen-proto.sh

fuzz:        ## libFuzzer + ASan on every parser, FUZZ_SECONDS (default 60) each; see Docs/security.md
	scripts/fuzz.sh

fuzz-replay: ## every saved crash input (Tests/FuzzCrashes) through the normal build
	scripts/fuzz-replay.sh

test-asan:   ## the Swift test suite under AddressSanitizer (.build-asan)
	scripts/test-asan.sh

static:      ## a fully static Linux x86-64 binary, dist/tfrewrite (.build-static; Docs/cli.md, "Installing")
	scripts/static.sh

wheel:       ## dist/tfrewrite-VERSION-py3-none-PLATFORM.whl: the static binary + the Python API
	scripts/build-wheel.sh

test-wheel:  ## make wheel, then install it into a fresh venv and use it without Swift on PATH
	scripts/test-wheel.sh

clean:
	rm -rf .build .build-static out dist
