# Two commands do all set-up on a fresh machine (Rust toolchain, Python 3.11, gcc):
#   make dev    start the whole system locally (AWS stand-in, tables, demo data, portal API)
#   make test   run every check: format, clippy, unit and integration tests, template lint
# Python tools live in per-tool virtualenvs under .venv/ (checkov and aws-sam-cli pin conflicting
# boto3 versions); each is rebuilt when its pinned requirements file changes.

PYTHON ?= python3
VENV   := .venv
PIP    := --disable-pip-version-check --quiet

.PHONY: dev test lint-infra token stripe-event billing build-lambda clean

$(VENV)/%/.installed: dev/requirements-%.txt
	rm -rf $(VENV)/$*
	$(PYTHON) -m venv $(VENV)/$*
	$(VENV)/$*/bin/pip install $(PIP) -r $<
	touch $@

# moto's stand-in is only needed by the dev stack and the integration tests.
STACK := $(VENV)/stack/.installed

dev: $(STACK)
	cargo run --locked -p devstack --bin dev -- up

test: $(STACK) $(VENV)/lint/.installed $(VENV)/checkov/.installed
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo test --locked --workspace
	dev/render-check.sh
	$(MAKE) --no-print-directory lint-infra

lint-infra: $(VENV)/lint/.installed $(VENV)/checkov/.installed
	$(VENV)/lint/bin/cfn-lint infra/template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/lint/bin/sam validate --lint --template infra/template.yaml --region us-east-1
	$(VENV)/checkov/bin/checkov --file infra/template.yaml --framework cloudformation --skip-download --compact --quiet

# A signed local token: make token ARGS="--sub demo-viewer --email viewer@demo.example"
token:
	@cargo run --locked -q -p devstack --bin dev -- token $(ARGS)

# Sends a sample Stripe event, signed now with the local webhook secret, to the running `make dev`:
#   make stripe-event EVENT=events/stripe/customer.subscription.created.json
stripe-event:
	@test -n "$(EVENT)" || { echo 'usage: make stripe-event EVENT=events/stripe/<file>.json'; exit 2; }
	@curl -sS -X POST "http://127.0.0.1:$${DEV_API_PORT:-3000}/webhooks/stripe" \
	  -H 'content-type: application/json' \
	  -H "Stripe-Signature: $$(cargo run --locked -q -p devstack --bin dev -- sign-event $(EVENT))" \
	  --data-binary @$(EVENT); echo

# What the webhook projected for an account of the running `make dev` (default acct_demo).
billing:
	@cargo run --locked -q -p devstack --bin dev -- billing $(ARGS)

# The deployable arm64 zips in target/lambda/<function>/bootstrap.zip (what `sam build` makes too).
build-lambda: $(VENV)/lambda/.installed
	PATH="$(CURDIR)/$(VENV)/lambda/bin:$$PATH" cargo lambda build --locked --release --arm64 --output-format zip \
	  --package portal-api --package stripe-webhook --package stripe-recovery \
	  --package invoice-mailer --package seat-provisioner --package bill-run --package ops-api

clean:
	rm -rf $(VENV) .dev target
