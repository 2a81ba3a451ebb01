# tfrewrite — the README's two commands are `make demo` and `make test`.
.PHONY: demo test bench fixtures proto clean fuzz fuzz-replay test-asan

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

clean:
	rm -rf .build out
