"""The local AWS stand-in: moto's server, bound to loopback, handling one request at a time.

Why not `moto_server`: it serves requests on many threads, and moto's TransactWriteItems deep-copies
each table it touches and restores that copy when the transaction fails. Two transactions at once
can therefore undo each other's committed writes, which DynamoDB never does (its transactions are
serializable). Serving requests one at a time gives the stand-in that isolation, so concurrency
tests exercise our conditional writes, not moto's races.

It also narrows moto's Query to the one partition asked for, on the table's key and on a global
index (moto lists and sorts every item of the table for each Query, see `_query` and
`_query_index`), and replaces moto's TransactWriteItems with one of the same behaviour that does not deep-copy
every table it touches on each call (see `_transact_write_items`): with that copy, each transaction
cost time and memory in proportion to the whole table, so a bill run over thousands of accounts,
or a long `make dev` session, slowed to a crawl and grew moto past 10 GB.

For SQS (the bill run's job queue) it finds the message a DeleteMessage names by its receipt handle
in a dict (moto scans every message of the queue twice per delete), counts the queue's messages
only when GetQueueAttributes asks (moto counts them, a scan each, on every message sent and
received), and reads the clock with `time.time()` (moto's goes through `datetime`, 7 µs a call,
once per message per scan): with those, draining a queue of 10,000 jobs took over an hour.

For Cognito (the portal's sign-in) it plays the server's side of SRP, adds GetTokensFromRefreshToken
and RevokeToken, and mails password-reset and sign-up verification codes to MOTO_COGNITO_OUTBOX and
checks them (see each patch below).

Usage: python moto_serve.py HOST PORT
"""

import base64
import copy
import hashlib
import hmac
import json
import os
import secrets
import signal
import sys
import time

from moto.cognitoidp.exceptions import (
    CodeMismatchException,
    ExpiredCodeException,
    NotAuthorizedError,
    UserNotFoundError,
)
from moto.cognitoidp.models import CognitoIdpBackend
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    ConditionalCheckFailed,
    DynamodbException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult
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
        for table, hash_value, range_value, _ in saved:
            _reindex(table, hash_value, range_value)
        raise


DynamoDBBackend.transact_write_items = _transact_write_items


# --- SQS: DeleteMessage by receipt handle in O(1) -------------------------------------------
from moto.sqs.exceptions import ReceiptHandleIsInvalid  # noqa: E402
from moto.sqs.models import Message as SqsMessage, Queue as SqsQueue  # noqa: E402

# Every receipt handle a message was given, to that message (moto keeps them on the message only).
_RECEIPTS: dict = {}
_moto_mark_received = SqsMessage.mark_received


def _mark_received(self, visibility_timeout=None):
    _moto_mark_received(self, visibility_timeout)
    _RECEIPTS[self.receipt_handle] = self


def _delete_message(self, receipt_handle):
    """moto's Queue.delete_message, the same answers: deleting again is harmless, a handle no
    message of this queue was given is invalid; the message found in the dict, not by a scan."""
    if receipt_handle in self.deleted_messages:
        return
    message = _RECEIPTS.get(receipt_handle)
    if message is None or message not in self._messages:  # identity: Message has no __eq__
        raise ReceiptHandleIsInvalid()
    self._messages.remove(message)
    self.pending_messages.discard(message)
    for handle in message.all_receipt_handles:
        self.deleted_messages.add(handle)
        _RECEIPTS.pop(handle, None)


SqsMessage.mark_received = _mark_received
SqsQueue.delete_message = _delete_message

import time  # noqa: E402

import moto.sqs.models as sqs_models  # noqa: E402
from moto.core.utils import camelcase_to_underscores  # noqa: E402
from moto.core.utils import unix_time as _moto_unix_time  # noqa: E402

_COUNTS = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible"}
# Set while GetQueueAttributes runs (requests are served one at a time).
_counting = False


def _unix_time(dt=None):
    return time.time() if dt is None else _moto_unix_time(dt)


def _unix_time_millis(dt=None):
    return _unix_time(dt) * 1000.0


def _queue_attributes(self):
    """moto's Queue.attributes, the counts left out unless GetQueueAttributes is answering."""
    result = {}
    for attribute in self.BASE_ATTRIBUTES:
        if attribute in _COUNTS and not _counting:
            continue
        result[attribute] = getattr(self, camelcase_to_underscores(attribute))
    if self.fifo_queue:
        for attribute in self.FIFO_ATTRIBUTES:
            result[attribute] = getattr(self, camelcase_to_underscores(attribute))
    if self.kms_master_key_id:
        for attribute in self.KMS_ATTRIBUTES:
            result[attribute] = getattr(self, camelcase_to_underscores(attribute))
    if self.policy:
        result["Policy"] = self.policy
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy)
    for key in result:
        if isinstance(result[key], bool):
            result[key] = str(result[key]).lower()
    return result


_moto_get_queue_attributes = sqs_models.SQSBackend.get_queue_attributes


def _get_queue_attributes(self, queue_name, attribute_names):
    global _counting
    _counting = True
    try:
        return _moto_get_queue_attributes(self, queue_name, attribute_names)
    finally:
        _counting = False


def _retained(self, queue_name, message):
    """moto's retention check, reading the queue's period instead of every attribute."""
    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return retention_period + message.sent_timestamp / 1000 > _unix_time()


sqs_models.unix_time = _unix_time
sqs_models.unix_time_millis = _unix_time_millis
SqsQueue.attributes = property(_queue_attributes)
sqs_models.SQSBackend.get_queue_attributes = _get_queue_attributes
sqs_models.SQSBackend.is_message_valid_based_on_retention_period = _retained

# TransactWriteItems' ClientRequestToken, which moto ignores: DynamoDB answers a call repeating a
# token it applied within 10 minutes with success, without applying it again (an SDK retry after
# a lost answer), and refuses the token with other items (IdempotentParameterMismatchException).
_TOKEN_SECS = 600


class IdempotentParameterMismatchException(DynamodbException):
    def __init__(self, message):
        super().__init__(ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException", message=message)


_tokens = {}  # token -> (items as JSON, when applied)
_transact_response = DynamoHandler.transact_write_items


def _transact_with_token(self):
    token = self.body.get("ClientRequestToken")
    if not token:
        return _transact_response(self)
    now = time.monotonic()
    for old in [t for t, (_, at) in _tokens.items() if now - at > _TOKEN_SECS]:
        del _tokens[old]
    items = json.dumps(self.body["TransactItems"], sort_keys=True)
    seen = _tokens.get(token)
    if seen is not None:
        if seen[0] != items:
            raise IdempotentParameterMismatchException(
                "The request uses the same client token as a previous, but non-identical request."
            )
        return DynamoResult({})
    result = _transact_response(self)
    _tokens[token] = (items, now)
    return result


DynamoHandler.transact_write_items = _transact_with_token

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


# An index Query reads moto's whole table too: `Table.query` keeps, of every item of the table,
# those whose index key matches, so an account's invoice list (one Query on gsi1) took time in
# proportion to every item of every account. The stand-in keeps, for each global index with a
# one-attribute partition key, the table keys of the items in each index partition, kept up to date
# by every write (put, update, delete, batch and transaction, and a transaction's restore), and
# hands the Query only that partition's items. MOTO_STOCK_INDEX_QUERY=1 turns this off (the
# benchmark's "before", bench/run.sh).
def _index_partitions(table):
    """{index: {partition value: {table key: None}}}, plus where each table key is, made on first
    use from the table's items."""
    state = table.__dict__.get("_index_partitions")
    if state is None:
        names = {}
        for index in table.global_indexes:
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            if len(hashes) == 1:
                names[index.name] = hashes[0]
        state = {"attrs": names, "by": {name: {} for name in names}, "where": {}}
        table._index_partitions = state
        for item in _all_items(table):
            _place(state, item)
    return state


def _place(state, item):
    key = (item.hash_key, item.range_key)
    spots = []
    for name, attr in state["attrs"].items():
        value = item.attrs.get(attr)
        if value is not None:
            state["by"][name].setdefault(value, {})[key] = None
            spots.append((name, value))
    if spots:
        state["where"][key] = spots


def _reindex(table, hash_value, range_value):
    """After a write to one table key: that key's index entries are the item's as it is now."""
    state = table.__dict__.get("_index_partitions")
    if state is None:
        return
    key = (hash_value, range_value)
    for name, value in state["where"].pop(key, ()):
        bucket = state["by"][name].get(value)
        if bucket is not None:
            bucket.pop(key, None)
            if not bucket:
                del state["by"][name][value]
    part = table.items.get(hash_value)
    item = part.get(range_value) if part is not None and table.range_key_attr else part
    if isinstance(item, Item):
        _place(state, item)


def _table_key(table, key_attrs):
    hash_value = DynamoType(key_attrs[table.hash_key_attr])
    range_value = DynamoType(key_attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _reindexed(write):
    """A backend write (`put_item` takes the item, `update_item` and `delete_item` the key: each
    holds the table's key attributes), then that key's index entries made current."""

    def wrapper(self, table_name, attrs, *args, **kwargs):
        try:
            return write(self, table_name, attrs, *args, **kwargs)
        finally:
            table = self.tables.get(table_name)
            if table is not None and "_index_partitions" in table.__dict__:
                try:
                    keys = _table_key(table, attrs)
                except (KeyError, TypeError):
                    keys = None  # a malformed key: moto refused it and wrote nothing
                if keys is not None:
                    _reindex(table, *keys)

    return wrapper


def _index_items(self):
    """`Table.all_items` while an index Query runs: that index partition's items only, unsorted
    (moto sorts an index Query's items by the index's keys itself)."""
    name, value = self._only_index
    state = _index_partitions(self)
    items = []
    for hash_value, range_value in state["by"][name].get(value, {}):
        part = self.items.get(hash_value)
        item = part.get(range_value) if part is not None and self.range_key_attr else part
        if isinstance(item, Item):
            items.append(item)
    return items


def _query_index(self, hash_key, *args, **kwargs):
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    conditions = kwargs.get("hash_key_conditions") or []
    attr = _index_partitions(self)["attrs"].get(index_name) if index_name else None
    if attr is not None and len(conditions) == 1 and conditions[0][0] == attr:
        value = conditions[0][1]
        if isinstance(value, DynamoType):
            self._only_index = (index_name, value)
            try:
                return _query(self, hash_key, *args, **kwargs)
            finally:
                self._only_index = None
    return _query(self, hash_key, *args, **kwargs)


def _narrowed_items(self):
    if getattr(self, "_only_index", None) is not None:
        return _index_items(self)
    return _partition_items(self)


if os.environ.get("MOTO_STOCK_INDEX_QUERY") != "1":
    DynamoDBBackend.put_item = _reindexed(DynamoDBBackend.put_item)
    DynamoDBBackend.update_item = _reindexed(DynamoDBBackend.update_item)
    DynamoDBBackend.delete_item = _reindexed(DynamoDBBackend.delete_item)
    Table.all_items = _narrowed_items
    Table.query = _query_index


# moto answers every DynamoDB call through its generic serializer, which walks botocore's model of
# the output shape node by node: for an account's 69 invoices, with their lines, that took 0.8 s
# of each list. An item operation's answer is DynamoDB JSON already (moto's `dynamo_to_dict`
# leaves only binary values as bytes), so the stand-in writes it with `json.dumps`, encoding bytes
# in base64 as the serializer does. Errors and the control plane keep moto's serializer.
_ITEM_ACTIONS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "PutItem", "UpdateItem", "DeleteItem",
     "BatchWriteItem", "TransactWriteItems"}
)
_execute_result = DynamoResult.execute_result


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON")


def _execute_item_result(self, context):
    if context.operation_model.name not in _ITEM_ACTIONS or isinstance(self.result, Exception):
        return _execute_result(self, context)
    version = context.service_model.metadata.get("jsonVersion", "1.0")
    body = json.dumps(self.result, default=_json_default, separators=(",", ":"))
    return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body


DynamoResult.execute_result = _execute_item_result


# Cognito's recovery mail. moto answers ForgotPassword with the code in a response header (and
# takes any code that does not start with its own prefix); Cognito mails a numeric code and checks
# it. The stand-in does the same: the code goes as an .eml to MOTO_COGNITO_OUTBOX (make dev's
# .dev/outbox, where every other local mail goes) and only that code is accepted.
_CODE_PREFIX = "moto-confirmation-code:"
_forgot_password = CognitoIdpBackend.forgot_password
_confirm_forgot_password = CognitoIdpBackend.confirm_forgot_password


def _deliver_code(username: str, digits: str, what: str = "password reset") -> None:
    outbox = os.environ.get("MOTO_COGNITO_OUTBOX")
    if not outbox:
        return
    os.makedirs(outbox, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    slug = what.replace(" ", "-")
    name = f"{stamp}-{time.monotonic_ns() % 1000:03}-{username.replace('@', '_at_')}-{slug}.eml"
    body = (
        f"From: no-reply@verificationemail.com\r\nTo: {username}\r\n"
        f"Subject: Your {what} code\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your {what} code is {digits}\r\n"
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

# Sign-up: Cognito mails a code to the new user's (auto-verified) e-mail and confirms the user,
# e-mail verified, only with that code; moto sends none and confirms without looking at it.
_sign_up = CognitoIdpBackend.sign_up


def _sign_up_with_code(self, client_id, username, password, attributes):
    user, details = _sign_up(self, client_id, username, password, attributes)
    digits = f"{secrets.randbelow(900_000) + 100_000}"
    user.confirmation_code = _CODE_PREFIX + digits
    _deliver_code(username, digits, "verification")
    return user, details


def _confirm_sign_up(self):
    client_id, username = self._get_param("ClientId"), self._get_param("Username")
    code = (self._get_param("ConfirmationCode") or "").strip()
    backend = self._get_region_agnostic_backend()._find_backend_for_clientid(client_id)
    pool = next((p for p in backend.user_pools.values() if client_id in p.clients), None)
    user = pool._get_user(username) if pool else None
    if user is None:
        raise UserNotFoundError(username)
    if user.confirmation_code is None or user.confirmation_code != _CODE_PREFIX + code:
        raise CodeMismatchException("Invalid verification code provided, please try again.")
    backend.confirm_sign_up(client_id, username)
    user.confirmation_code = None
    user.update_attributes([{"Name": "email_verified", "Value": "true"}])
    return EmptyResult()


CognitoIdpBackend.sign_up = _sign_up_with_code
CognitoIdpResponse.confirm_sign_up = _confirm_sign_up


# Cognito's SRP sign-in (USER_SRP_AUTH, what Amplify and every Cognito client use). moto answers
# with a random SRP_B and accepts any password proof, so a wrong password would sign in. The
# stand-in plays the server's side of Cognito's SRP-6a (3072-bit group, g = 2, the
# "Caldera Derived Key" HKDF): it derives the verifier from the user's password, and the
# PASSWORD_VERIFIER step fails with NotAuthorizedException unless the client's signature proves it.
_N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
_G = 2
_srp_sessions = {}  # SECRET_BLOCK -> (pool name, user id for SRP, salt, A, B, b)


def _pad_hex(n: int) -> str:
    """Cognito's padded hex: even length, and a leading 00 when the top bit is set (positive)."""
    h = format(n, "x")
    if len(h) % 2:
        h = "0" + h
    return "00" + h if h[0] in "89abcdef" else h


def _hash_hex(hex_str: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_str)).hexdigest()


_K = int(_hash_hex(_pad_hex(_N) + _pad_hex(_G)), 16)


def _verifier(pool_name, user_id, password, salt):
    """v = g^x mod N, x = H(salt | H(pool name | user id | ":" | password)): what Cognito keeps."""
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    return pow(_G, int(_hash_hex(_pad_hex(salt) + inner), 16), _N)


def _srp_key(pool_name, user_id, password, salt, a_value, b_value, b_secret):
    """The 16-byte key both sides derive; the server's side: S = (A · v^u)^b mod N."""
    v = _verifier(pool_name, user_id, password, salt)
    u = int(_hash_hex(_pad_hex(a_value) + _pad_hex(b_value)), 16)
    s = pow(a_value * pow(v, u, _N), b_secret, _N)
    prk = hmac.new(bytes.fromhex(_pad_hex(u)), bytes.fromhex(_pad_hex(s)), hashlib.sha256).digest()
    return hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]


_initiate_auth = CognitoIdpBackend.initiate_auth
_respond_to_auth_challenge = CognitoIdpBackend.respond_to_auth_challenge


def _initiate(self, client_id, auth_flow, auth_parameters):
    result = _initiate_auth(self, client_id, auth_flow, auth_parameters)
    params = result.get("ChallengeParameters") or {}
    if result.get("ChallengeName") != "PASSWORD_VERIFIER" or "SRP_B" not in params:
        return result
    pool = next(p for p in self.user_pools.values() if client_id in p.clients)
    user = pool._get_user(params["USERNAME"])
    a_value = int(auth_parameters["SRP_A"], 16)
    if a_value % _N == 0:
        raise NotAuthorizedError("Incorrect username or password.")
    pool_name = pool.id.split("_", 1)[1]
    salt = int.from_bytes(secrets.token_bytes(16), "big")
    b_secret = int.from_bytes(secrets.token_bytes(128), "big") % _N
    b_value = (_K * _verifier(pool_name, user.id, user.password, salt) + pow(_G, b_secret, _N)) % _N
    block = base64.b64encode(secrets.token_bytes(64)).decode()
    self.sessions[block] = self.sessions.pop(result["Session"])
    _srp_sessions[block] = (pool_name, user.id, salt, a_value, b_value, b_secret)
    params.update(SALT=format(salt, "x"), SRP_B=format(b_value, "x"), SECRET_BLOCK=block)
    result["Session"] = block
    return result


def _respond(self, session, client_id, challenge_name, challenge_responses):
    if challenge_name == "PASSWORD_VERIFIER":
        block = challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK", "")
        state = _srp_sessions.pop(block, None)
        if state is None or block not in self.sessions:
            raise NotAuthorizedError("Invalid session for the user.")
        pool_name, user_id, salt, a_value, b_value, b_secret = state
        _, pool = self.sessions[block]
        user = pool._get_user(challenge_responses.get("USERNAME", ""))
        if user is None or user.id != user_id:
            raise NotAuthorizedError("Incorrect username or password.")
        key = _srp_key(pool_name, user_id, user.password, salt, a_value, b_value, b_secret)
        message = (
            pool_name.encode()
            + user_id.encode()
            + base64.b64decode(block)
            + challenge_responses.get("TIMESTAMP", "").encode()
        )
        expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, challenge_responses.get("PASSWORD_CLAIM_SIGNATURE", "")):
            self.sessions.pop(block, None)
            raise NotAuthorizedError("Incorrect username or password.")
    return _respond_to_auth_challenge(self, session, client_id, challenge_name, challenge_responses)


CognitoIdpBackend.initiate_auth = _initiate
CognitoIdpBackend.respond_to_auth_challenge = _respond


def _revoke_token(self):
    """Cognito's RevokeToken (every client's sign-out calls it; moto does not have it): the
    refresh token stops working."""
    token, client_id = self._get_param("Token"), self._get_param("ClientId")
    backend = self._get_region_agnostic_backend()._find_backend_for_clientid(client_id)
    for pool in backend.user_pools.values():
        if client_id in pool.clients and token in pool.refresh_tokens:
            pool.refresh_tokens[token] = None
    return ActionResult({})


def _get_tokens_from_refresh_token(self):
    """Cognito's GetTokensFromRefreshToken (how Amplify refreshes tokens before they expire; moto
    does not have it): moto's own REFRESH_TOKEN_AUTH flow, which refuses revoked tokens."""
    client_id = self._get_param("ClientId")
    result = self._get_region_agnostic_backend().initiate_auth(
        client_id, "REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": self._get_param("RefreshToken")}
    )
    return ActionResult(result)


CognitoIdpResponse.revoke_token = _revoke_token
CognitoIdpResponse.get_tokens_from_refresh_token = _get_tokens_from_refresh_token


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
