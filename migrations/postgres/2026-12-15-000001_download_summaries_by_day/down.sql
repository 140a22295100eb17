DROP INDEX download_product_customers_day;
DROP INDEX download_product_daily_day;
DROP INDEX download_daily_day;
