"""The local AWS stand-in: moto's server, bound to loopback, handling one request at a time.

Why not `moto_server`: it serves requests on many threads, and moto's TransactWriteItems deep-copies
each table it touches and restores that copy when the transaction fails. Two transactions at once
can therefore undo each other's committed writes, which DynamoDB never does (its transactions are
serializable). Serving requests one at a time gives the stand-in that isolation, so concurrency
tests exercise our conditional writes, not moto's races.

It also narrows moto's Query on the table's own key to the one partition asked for (moto lists and
sorts every item of the table for each Query, see `_query`), and replaces moto's TransactWriteItems with one of the same behaviour that does not deep-copy
every table it touches on each call (see `_transact_write_items`): with that copy, each transaction
cost time and memory in proportion to the whole table, so a bill run over thousands of accounts,
or a long `make dev` session, slowed to a crawl and grew moto past 10 GB.

Usage: python moto_serve.py HOST PORT
"""

import copy
import os
import signal
import sys
import time

from moto.cognitoidp.exceptions import CodeMismatchException, ExpiredCodeException
from moto.cognitoidp.models import CognitoIdpBackend
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def _transact_write_items(self, transact_items):
    """DynamoDB's TransactWriteItems, all or nothing, as moto 5.2.5 answers it (same checks, same
    cancellation reasons), without moto's deep copy of each touched table.

    1. Check every operation's condition against the current items, writing nothing. Any failure
       cancels the transaction with one reason per operation, as moto does.
    2. Apply the writes. Requests are served one at a time, so nothing changes in between. Should a
       write still fail (a malformed update expression), the touched items and their stream records
       are put back as they were and the error is raised, as moto does after its restore.
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    ops, seen, reasons = [], set(), []
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        table = self.get_table(table_name)
        if op_type == "Put":
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        unique = (str(table_name), str(dict(sorted(key.items()))))
        if unique in seen:
            raise MultipleTransactionsException()
        seen.add(unique)
        current = self.get_item(table_name, key)
        reason = (None, None, None)
        condition = op.get("ConditionExpression")
        if condition is not None:
            check = get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            )
            if not check.expr(current):
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                reason = ("ConditionalCheckFailed", str(ConditionalCheckFailed().message), old)
        reasons.append(reason)
        ops.append((op_type, op, table, key, current))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    saved = []  # (table, hash, range, item before) for a restore
    streams = {}
    try:
        for op_type, op, table, key, current in ops:
            if op_type == "ConditionCheck":
                continue
            if table.stream_shard is not None and id(table) not in streams:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key, expression_attribute_names=names,
                                 expression_attribute_values=values)
            else:
                self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=values)
    except Exception:
        for table, hash_value, range_value, before in reversed(saved):
            if range_value is not None:
                if before is None:
                    table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = before
            elif before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        for shard, length in streams.values():
            del shard.items[length:]
        raise


DynamoDBBackend.transact_write_items = _transact_write_items

_all_items = Table.all_items
_table_query = Table.query


def _partition_items(self):
    """`Table.all_items` while a Query on the table's key runs: only the queried partition, in the
    same (hash, range) order. moto's Query keeps just that partition's items of the full list."""
    only = getattr(self, "_only_partition", None)
    if only is None:
        return _all_items(self)
    part = self.items.get(only)
    if part is None:
        return []
    items = list(part.values()) if self.range_key_attr else [part]
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _query(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name or hash_key is None:
        return _table_query(self, hash_key, *args, **kwargs)
    self._only_partition = hash_key
    try:
        return _table_query(self, hash_key, *args, **kwargs)
    finally:
        self._only_partition = None


Table.all_items = _partition_items
Table.query = _query


# Cognito's recovery mail. moto answers ForgotPassword with the code in a response header (and
# takes any code that does not start with its own prefix); Cognito mails a numeric code and checks
# it. The stand-in does the same: the code goes as an .eml to MOTO_COGNITO_OUTBOX (make dev's
# .dev/outbox, where every other local mail goes) and only that code is accepted.
_CODE_PREFIX = "moto-confirmation-code:"
_forgot_password = CognitoIdpBackend.forgot_password
_confirm_forgot_password = CognitoIdpBackend.confirm_forgot_password


def _deliver_code(username: str, digits: str) -> None:
    outbox = os.environ.get("MOTO_COGNITO_OUTBOX")
    if not outbox:
        return
    os.makedirs(outbox, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    name = f"{stamp}-{time.monotonic_ns() % 1000:03}-{username.replace('@', '_at_')}-password-reset.eml"
    body = (
        f"From: no-reply@verificationemail.com\r\nTo: {username}\r\n"
        f"Subject: Your password reset code\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your password reset code is {digits}\r\n"
    )
    with open(os.path.join(outbox, name), "w", encoding="utf-8") as f:
        f.write(body)


def _forgot(self, client_id, username):
    code, details = _forgot_password(self, client_id, username)
    if code is not None:
        _deliver_code(username, code.removeprefix(_CODE_PREFIX))
    # The code reaches the user by mail only, never in the API's answer.
    return None, details


def _confirm_forgot(self, client_id, username, password, confirmation_code):
    code = confirmation_code.strip()
    for pool in self.user_pools.values():
        if client_id in pool.clients:
            user = pool._get_user(username)
            if user is not None:
                if user.confirmation_code is None:
                    raise ExpiredCodeException("Invalid code provided, please request a code again.")
                if user.confirmation_code != _CODE_PREFIX + code:
                    raise CodeMismatchException("Invalid verification code provided, please try again.")
                self._validate_password(pool.id, password)
            break
    return _confirm_forgot_password(self, client_id, username, password, _CODE_PREFIX + code)


CognitoIdpBackend.forgot_password = _forgot
CognitoIdpBackend.confirm_forgot_password = _confirm_forgot


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the stand-in only listens on loopback")
    os.environ.setdefault("MOTO_PORT", str(port))
    # The stand-in's state is in memory and disposable: exit at once, without the seconds that
    # tearing down moto's object graph takes, so stopping `make dev` or a test run is immediate.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    run_simple(
        host,
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        use_reloader=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
