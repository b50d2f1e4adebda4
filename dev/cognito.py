"""The local Cognito: the template's user pool and app client on the stand-in, and the demo users.

`make dev` runs `setup`; `make token` runs `token`. Uses boto3 (installed with moto in .venv/stack).

    python dev/cognito.py setup ENDPOINT TEMPLATE OUT_JSON EMAIL:PASSWORD...
        Creates the pool and client from the template's UserPool and UserPoolClient properties
        (the template is their only definition), the users (e-mail verified, password permanent),
        and writes {user_pool_id, client_id, issuer, jwks, users: {email: sub}} to OUT_JSON.
    python dev/cognito.py token ENDPOINT CLIENT_ID EMAIL PASSWORD
        Signs the user in and prints the ID token.
"""

import json
import sys
import urllib.request

import boto3
import yaml

REGION = "us-east-1"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, …) read as plain values."""


def _tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_CfnLoader.add_multi_constructor("!", _tag)


def client(endpoint):
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def setup(endpoint, template_path, out_path, users, pool="UserPool", app_client="UserPoolClient", name="billing-local-users"):
    with open(template_path, encoding="utf-8") as f:
        resources = yaml.load(f, Loader=_CfnLoader)["Resources"]
    pool_props = dict(resources[pool]["Properties"])
    client_props = dict(resources[app_client]["Properties"])
    # The pool's groups (the staff pool's roles), as the template defines them (`!Ref <pool>`
    # reads as the pool's logical name).
    groups = [
        dict(r["Properties"])
        for r in resources.values()
        if r.get("Type") == "AWS::Cognito::UserPoolGroup" and r["Properties"].get("UserPoolId") == pool
    ]
    idp = client(endpoint)
    pool_props["PoolName"] = name
    pool_props.pop("UserPoolName", None)
    # Deletion protection and MFA settings are account guards, not behaviour the apps see (the
    # staff pool requires MFA in AWS; locally staff sign in with their password alone).
    for key in ("DeletionProtection", "EnabledMfas", "MfaConfiguration", "AdminCreateUserConfig"):
        pool_props.pop(key, None)
    if "Schema" in pool_props:
        pool_props["Schema"] = [{**a, "Required": bool(a.get("Required"))} for a in pool_props["Schema"]]
    pool = idp.create_user_pool(**pool_props)["UserPool"]
    pool_id = pool["Id"]
    client_props.pop("UserPoolId", None)
    app = idp.create_user_pool_client(UserPoolId=pool_id, **client_props)["UserPoolClient"]
    for g in groups:
        g.pop("UserPoolId", None)
        idp.create_group(UserPoolId=pool_id, **g)
    subs = {}
    for spec in users:
        # email:password, or email:password:group+group
        email, password, *member_of = spec.split(":", 2)
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            MessageAction="SUPPRESS",
        )
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
        for group in (member_of[0].split("+") if member_of else []):
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
        attrs = idp.admin_get_user(UserPoolId=pool_id, Username=email)["UserAttributes"]
        subs[email] = next(a["Value"] for a in attrs if a["Name"] == "sub")
    with urllib.request.urlopen(f"{endpoint}/{pool_id}/.well-known/jwks.json", timeout=10) as r:
        jwks = json.load(r)
    out = {
        "user_pool_id": pool_id,
        "client_id": app["ClientId"],
        "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "jwks": jwks,
        "users": subs,
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2)


def token(endpoint, client_id, email, password):
    # The stand-in does not check the client's auth flows; this is a local convenience for curl.
    r = client(endpoint).initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    print(r["AuthenticationResult"]["IdToken"])


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "setup":
        args, options = [], {}
        rest = iter(sys.argv[5:])
        for a in rest:
            if a in ("--pool", "--client", "--name"):
                options[{"--pool": "pool", "--client": "app_client", "--name": "name"}[a]] = next(rest)
            else:
                args.append(a)
        setup(sys.argv[2], sys.argv[3], sys.argv[4], args, **options)
    elif len(sys.argv) == 6 and sys.argv[1] == "token":
        token(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
