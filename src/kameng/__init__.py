"""kameng: a 卡盟 shop that never loses a paid order."""
