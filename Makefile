# Two commands do all set-up on a fresh machine (Rust toolchain, Python 3.11 with pip, Node 20 with
# npm, gcc):
#   make dev    start the whole system locally (AWS stand-in with Cognito, tables, demo data, the
#               portal API and the portal web app on http://127.0.0.1:3000/)
#   make test   run every check: format, clippy, unit and integration tests, the bill e-mail and
#               PDF checks, the web app's checks, unit tests and end-to-end tests in Chromium,
#               template lint
# Python tools live in per-tool virtualenvs under .venv/ (checkov and aws-sam-cli pin conflicting
# boto3 versions); each is rebuilt when its pinned requirements file changes.

PYTHON ?= python3
VENV   := .venv
PIP    := --disable-pip-version-check --quiet

.PHONY: dev test test-tools test-compile web web-check e2e lint-infra token stripe-event billing bill-run lockbox build-lambda deploy-web clean

$(VENV)/%/.installed: dev/requirements-%.txt
	rm -rf $(VENV)/$*
	$(PYTHON) -m venv $(VENV)/$*
	$(VENV)/$*/bin/pip install $(PIP) -r $<
	touch $@

# moto's stand-in is only needed by the dev stack and the integration tests.
STACK := $(VENV)/stack/.installed

# The web app's packages, exactly as package-lock.json records them.
WEB_DEPS := web/node_modules/.installed
$(WEB_DEPS): web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The portal web app, built into web/dist (served by `make dev` and uploaded by `make deploy-web`).
web: $(WEB_DEPS)
	cd web && npm run -s build

dev: $(STACK) web
	cargo run --locked -p devstack --bin dev -- up

# The generated API types match docs/openapi.json; types check; unit tests; the bundle budget.
web-check: web
	cd web && npm run -s check:api && npm run -s typecheck && npm run -s test && npm run -s size

# Every page in headless Chromium against a local stack the tests start on free ports.
e2e: $(STACK) web
	cargo build --locked -p devstack --bin dev
	cd web && CHROMIUM="$$(../dev/ensure-chromium.sh)" npm run -s e2e

# The tools the checks need are installed one after another while cargo compiles (two make jobs:
# cargo's, started first, and the installs'); the installs mostly wait on the network, cargo on the
# CPU, so on a fresh machine that saves most of the installs' 7 minutes.
test:
	cargo fmt --all -- --check
	$(MAKE) --no-print-directory -j2 test-compile test-tools
	$(MAKE) --no-print-directory web
	cargo test --locked --workspace
	dev/render-check.sh
	dev/pdf-check.sh
	$(MAKE) --no-print-directory web-check e2e
	$(MAKE) --no-print-directory lint-infra

test-tools: $(STACK) $(VENV)/lint/.installed $(VENV)/checkov/.installed $(WEB_DEPS)
	@dev/ensure-chromium.sh > /dev/null || echo "chromium: not installed here; the browser checks will say so"
	@dev/ensure-pdf-tools.sh || echo "qpdf, poppler-utils: not installed here; the PDF check will say so"

# MAKEFLAGS is cleared so that cargo keeps all its own jobs instead of sharing make's two.
test-compile:
	MAKEFLAGS= cargo clippy --locked --workspace --all-targets -- -D warnings
	MAKEFLAGS= cargo test --locked --workspace --no-run

lint-infra: $(VENV)/lint/.installed $(VENV)/checkov/.installed
	$(VENV)/lint/bin/cfn-lint infra/template.yaml
	SAM_CLI_TELEMETRY=0 $(VENV)/lint/bin/sam validate --lint --template infra/template.yaml --region us-east-1
	$(VENV)/checkov/bin/checkov --file infra/template.yaml --framework cloudformation --skip-download --compact --quiet

# The helpers below run the `dev` binary `make dev` built, building it only when it is missing: a
# `cargo run` would wait, silently, while another cargo command holds the build lock.
DEV_BIN := $(or $(CARGO_TARGET_DIR),target)/debug/dev
$(DEV_BIN):
	cargo build --locked -q -p devstack --bin dev

# The demo admin's Cognito ID token from the running `make dev`: make -s token ARGS="--email viewer@demo.example"
token: | $(DEV_BIN)
	@$(DEV_BIN) token $(ARGS)

# Sends a sample Stripe event, signed now with the local webhook secret, to the running `make dev`:
#   make stripe-event EVENT=events/stripe/customer.subscription.created.json
stripe-event: | $(DEV_BIN)
	@test -n "$(EVENT)" || { echo 'usage: make stripe-event EVENT=events/stripe/<file>.json'; exit 2; }
	@curl -sS -X POST "http://127.0.0.1:$${DEV_API_PORT:-3000}/webhooks/stripe" \
	  -H 'content-type: application/json' \
	  -H "Stripe-Signature: $$($(DEV_BIN) sign-event $(EVENT))" \
	  --data-binary @$(EVENT); echo

# The scheduled bill run on the running `make dev`, its clock moved: make bill-run ARGS="--clock 2027-01-15"
# (add `--workers 4` to fan it out through the stand-in's SQS as the schedule does in AWS)
bill-run: | $(DEV_BIN)
	@$(DEV_BIN) bill-run $(ARGS)

# Drops a lockbox file into the running `make dev`'s lockbox bucket, as the bank does.
lockbox: | $(DEV_BIN)
	@test -n "$(FILE)" || { echo 'usage: make lockbox FILE=<bank file>'; exit 2; }
	@$(DEV_BIN) lockbox $(FILE)

# What the webhook projected for an account of the running `make dev` (default acct_demo).
billing: | $(DEV_BIN)
	@$(DEV_BIN) billing $(ARGS)

# The deployable arm64 zips in target/lambda/<function>/bootstrap.zip (what `sam build` makes too).
build-lambda: $(VENV)/lambda/.installed
	PATH="$(CURDIR)/$(VENV)/lambda/bin:$$PATH" cargo lambda build --locked --release --arm64 --output-format zip \
	  --package portal-api --package stripe-webhook --package stripe-recovery \
	  --package invoice-mailer --package seat-provisioner --package bill-run --package bill-run-worker --package ops-api --package lockbox-import

# Uploads the built app to the stack's bucket and invalidates CloudFront's copy:
#   make deploy-web STACK_NAME=billing-prod [AWS_REGION=…]  (needs the AWS CLI and credentials)
deploy-web: web
	@test -n "$(STACK_NAME)" || { echo 'usage: make deploy-web STACK_NAME=<the SAM stack>'; exit 2; }
	dev/deploy-web.sh "$(STACK_NAME)"

clean:
	rm -rf $(VENV) .dev target web/node_modules web/dist
