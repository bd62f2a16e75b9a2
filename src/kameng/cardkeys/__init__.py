"""Card keys (卡密): encrypted stock, allocation, bulk import."""
