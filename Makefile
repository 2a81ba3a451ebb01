# tfrewrite — the README's two commands are `make demo` and `make test`.
.PHONY: demo test bench fixtures proto clean

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

clean:
	rm -rf .build out
