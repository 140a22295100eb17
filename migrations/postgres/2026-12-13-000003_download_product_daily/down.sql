DROP TABLE download_product_daily;
DROP TABLE download_product_customers;
