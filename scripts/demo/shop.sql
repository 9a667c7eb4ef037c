-- The demo's source schema: a small shop.
CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers(id),
    total       numeric(12,2) NOT NULL,
    status      text NOT NULL DEFAULT 'new',
    details     jsonb,
    placed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE order_items (
    order_id    bigint NOT NULL REFERENCES orders(id),
    line        int NOT NULL,
    sku         text NOT NULL,
    quantity    int NOT NULL,
    price       numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, line)
);
INSERT INTO customers (email, name)
SELECT 'customer' || g || '@example.com', 'Customer ' || g
FROM generate_series(1, 200) g;
INSERT INTO orders (customer_id, total, details)
SELECT 1 + g % 200, (g * 7.31)::numeric(12,2),
       jsonb_build_object('channel', CASE WHEN g % 2 = 0 THEN 'web' ELSE 'app' END)
FROM generate_series(1, 1000) g;
INSERT INTO order_items (order_id, line, sku, quantity, price)
SELECT o, l, 'SKU-' || (o * l % 97), 1 + l, (l * 3.5)::numeric(10,2)
FROM generate_series(1, 1000) o, generate_series(1, 3) l;
