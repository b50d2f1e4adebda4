#!/usr/bin/env bash
# Uploads the built portal and back office (web/dist) to the stack's WebBucket with its runtime config.json, and
# invalidates CloudFront's copy. Usage: dev/deploy-web.sh STACK_NAME (AWS CLI v2, credentials and
# AWS_REGION as for `sam deploy`).
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:?usage: dev/deploy-web.sh STACK_NAME}
[ -f web/dist/index.html ] || { echo "web/dist is not built: run make web" >&2; exit 1; }
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output WebBucketName)
distribution=$(output WebDistributionId)
pool=$(output UserPoolId)
client=$(output UserPoolClientId)
staff_pool=$(output StaffUserPoolId)
staff_client=$(output StaffUserPoolClientId)
seller=$(output SellerName)
support=$(output SupportEmail)
# The app reads these at start; in AWS it talks to Cognito's own endpoint (no userPoolEndpoint).
python3 - "$pool" "$client" "$seller" "$support" "$staff_pool" "$staff_client" > web/dist/config.json <<'PY'
import json, sys
pool, client, seller, support, staff_pool, staff_client = sys.argv[1:]
print(json.dumps({"cognito": {"userPoolId": pool, "userPoolClientId": client},
                  "staffCognito": {"userPoolId": staff_pool, "userPoolClientId": staff_client},
                  "sellerName": seller, "supportEmail": support if support != "None" else ""}))
PY
# Hashed assets never change under their name; the entry points are revalidated on every load.
aws s3 sync web/dist/assets "s3://$bucket/assets" --cache-control "public, max-age=31536000, immutable"
aws s3 sync web/dist "s3://$bucket" --exclude "assets/*" --cache-control "no-cache" --delete
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/index.html" "/staff.html" "/config.json" "/" > /dev/null
echo "deployed the portal to $(output WebUrl)"
