-- Reference for "signed paid notify -> keys delivered" (issue 8): the 8 round
-- trips of the issue's reference, one commit: BEGIN, INSERT the raw notify,
-- guarded UPDATE of the order, SELECT a key FOR UPDATE SKIP LOCKED (through the
-- partial pool index), UPDATE the key, UPDATE the order, INSERT the two timeline
-- events, COMMIT. Each client pays its own unpaid orders in turn (k counts its
-- transactions), so no two transactions pay the same order.
-- Run by scripts/benchlib/pgbench.py:
--   pgbench -M prepared -f notify.sql -D first=<first unpaid id> -D clients=<c> -D k=0 -D product=<id>
\set k :k + 1
\set order_id :first + :client_id + :clients * (:k - 1)
BEGIN;
INSERT INTO payment_notifies (gateway, received_at, http_method, raw_query, raw_body,
    remote_addr, out_trade_no, trade_no, verdict, detail, order_id)
VALUES ('epay', now(), 'GET',
    'pid=1001&trade_no=2026' || :order_id || '&out_trade_no=' || :order_id
        || '&type=alipay&name=pgbench&money=10&trade_status=TRADE_SUCCESS&sign=0123456789abcdef0123456789abcdef&sign_type=MD5',
    '', '127.0.0.1', :order_id::text, '2026' || :order_id, 'accepted', '', :order_id);
UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
WHERE id = :order_id AND status IN ('unpaid', 'expired')
RETURNING product_id \gset
SELECT id AS key_id FROM card_keys
WHERE product_id = :product_id AND status = 'available'
ORDER BY pool_seq LIMIT 1 FOR UPDATE SKIP LOCKED \gset
UPDATE card_keys SET status = 'sold', order_id = :order_id, slot = 1, sold_at = now()
WHERE id = :key_id;
UPDATE orders SET status = 'delivered', delivered_quantity = 1, delivered_at = now(),
    updated_at = now()
WHERE id = :order_id;
INSERT INTO order_events (order_id, type, params, actor, created_at)
VALUES (:order_id, 'paid', '{"source": "notify", "gateway": "epay", "amount_cents": 1000}',
        'gateway', now()),
       (:order_id, 'delivered', '{"quantity": 1}', 'system', now());
COMMIT;
