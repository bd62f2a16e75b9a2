-- Reference for "lookup by order number" (issue 8, issue 11): the order by its
-- 16-digit number (with its product) and its timeline, 2 statements without a
-- transaction block. The number is drawn among the orders that exist: the
-- inner SELECT reads it by a random id (one more primary-key probe).
-- Run by scripts/benchlib/pgbench.py:  pgbench -M prepared -f lookup.sql -D orders=<max id>
\set i random(1, :orders)
SELECT o.id, o.order_no, o.status, o.quantity, o.amount_cents, o.created_at, o.paid_at,
    o.delivered_at, p.sku, p.name, p.kind
FROM orders o JOIN products p ON p.id = o.product_id
WHERE o.order_no = (SELECT order_no FROM orders WHERE id = :i);
SELECT type, params, actor, created_at FROM order_events WHERE order_id = :i ORDER BY id;
