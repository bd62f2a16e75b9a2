-- Reference for "create order" (issue 8): the order row and its first timeline
-- event, one commit, 4 round trips (BEGIN, 2 INSERTs, COMMIT). Run by
-- scripts/benchlib/pgbench.py:  pgbench -M prepared -f create.sql -D product=<id>
\set n random(0, 8999999999999999)
BEGIN;
INSERT INTO orders (order_no, product_id, quantity, unit_price_cents, amount_cents,
    contact, query_password_hash, gateway, status, delivered_quantity,
    created_at, expires_at, updated_at)
VALUES ((1000000000000000 + :n)::text, :product, 1, 1000, 1000, NULL,
    '$kqp1$AAAAAA$c2FsdHNhbHRzYWx0c2FsdA$bWFjbWFjbWFjbWFjbWFjbWFjbWFjbWFjbWFjbWFjbWE', 'epay',
    'unpaid', 0, now(), now() + interval '15 minutes', now())
RETURNING id AS order_id \gset
INSERT INTO order_events (order_id, type, params, actor, created_at)
VALUES (:order_id, 'created', '{"quantity": 1, "amount_cents": 1000, "gateway": "epay"}',
    'buyer', now());
COMMIT;
