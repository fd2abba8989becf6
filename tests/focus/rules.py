"""FOCUS 1.2's requirements on a dataset, written out from the specification itself
(not from the exporter's mapping), for the tests to hold an export against."""

from __future__ import annotations

import json
import re
from decimal import Decimal

# The columns FOCUS 1.2 marks Mandatory, and which of them may be null.
MANDATORY = {
    "BilledCost": False,
    "BillingAccountId": False,
    "BillingAccountName": True,
    "BillingCurrency": False,
    "BillingPeriodEnd": False,
    "BillingPeriodStart": False,
    "ChargeCategory": False,
    "ChargeClass": True,
    "ChargeDescription": True,
    "ChargePeriodEnd": False,
    "ChargePeriodStart": False,
    "ContractedCost": False,
    "EffectiveCost": False,
    "InvoiceIssuerName": False,
    "ListCost": False,
    "PricingQuantity": True,
    "PricingUnit": True,
    "ProviderName": False,
    "PublisherName": False,
    "ServiceCategory": False,
    "ServiceName": False,
}
# The other columns FOCUS 1.2 defines (Conditional or Recommended), null allowed or not.
OTHERS = {
    "ChargeFrequency": False,
    "ServiceSubcategory": False,
    "SubAccountId": True,
    "SubAccountName": True,
    "ResourceId": True,
    "ResourceName": True,
    "ResourceType": True,
    "SkuId": True,
    "ConsumedQuantity": True,
    "ConsumedUnit": True,
    "Tags": True,
}
DECIMALS = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity",
            "ConsumedQuantity"}  # fmt: skip
DATETIMES = {"ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"}
ALLOWED = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {"Correction"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "ServiceCategory": {
        "AI and Machine Learning", "Analytics", "Business Applications", "Compute",
        "Databases", "Developer Tools", "Multicloud", "Identity", "Integration",
        "Internet of Things", "Management and Governance", "Media", "Migration", "Mobile",
        "Networking", "Security", "Storage", "Web", "Other",
    },
}  # fmt: skip
# ServiceSubcategory → its one parent ServiceCategory (the AI ones FOCUS 1.2 lists).
SUBCATEGORIES = {
    name: "AI and Machine Learning"
    for name in ("AI Platforms", "Bots", "Generative AI", "Machine Learning",
                 "Natural Language Processing", "Other (AI and Machine Learning)")
}  # fmt: skip
# NumericFormat: an integer, a decimal or E notation; no sign for positives, no commas.
NUMBER = re.compile(r"-?\d+(\.\d+)?(E-?\d+)?")
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CURRENCY = re.compile(r"[A-Z]{3}")


def problems(header: list[str], rows: list[dict[str, str]]) -> list[str]:
    """Every way the dataset breaks a FOCUS 1.2 rule (a CSV's empty field is null)."""
    found = [f"{c} is missing" for c in MANDATORY if c not in header]
    defined = MANDATORY | OTHERS
    found += [f"{c} is neither FOCUS's nor x_" for c in header
              if c not in defined and not c.startswith("x_")]  # fmt: skip
    for i, row in enumerate(rows):
        found += [f"row {i}: {p}" for p in _row_problems(row, defined)]
    return found


def _row_problems(row: dict[str, str], defined: dict[str, bool]) -> list[str]:
    found = []
    for column, nullable in defined.items():
        if column in row and not row[column] and not nullable:
            found.append(f"{column} is null")
    for column in DECIMALS & row.keys():
        if row[column] and not NUMBER.fullmatch(row[column]):
            found.append(f"{column} {row[column]!r} is not a FOCUS number")
    for column in DATETIMES & row.keys():
        if not DATETIME.fullmatch(row[column] or ""):
            found.append(f"{column} {row[column]!r} is not YYYY-MM-DDTHH:mm:ssZ")
    for column, allowed in ALLOWED.items():
        if row.get(column) and row[column] not in allowed:
            found.append(f"{column} {row[column]!r} is not an allowed value")
    if not CURRENCY.fullmatch(row["BillingCurrency"]):
        found.append(f"BillingCurrency {row['BillingCurrency']!r} is not ISO 4217")
    sub = row.get("ServiceSubcategory")
    if sub and SUBCATEGORIES.get(sub) != row["ServiceCategory"]:
        found.append(f"ServiceSubcategory {sub!r} is not under {row['ServiceCategory']!r}")
    return found + _relations(row) + _tags(row.get("Tags", ""))


def _relations(row: dict[str, str]) -> list[str]:
    found = []
    for quantity, unit in (("PricingQuantity", "PricingUnit"),
                           ("ConsumedQuantity", "ConsumedUnit")):  # fmt: skip
        if quantity in row and bool(row[quantity]) != bool(row.get(unit)):
            found.append(f"{unit} must be null exactly when {quantity} is")
    usage = row["ChargeCategory"] == "Usage" and not row["ChargeClass"]
    for column in ("PricingQuantity", "ConsumedQuantity", "SkuId"):
        if usage and column in row and not row[column]:
            found.append(f"{column} is null on a Usage charge")
    if row["ChargeCategory"] != "Usage" and row.get("ConsumedQuantity"):
        found.append("ConsumedQuantity is set on a charge that is not Usage")
    if not row["ChargePeriodStart"] < row["ChargePeriodEnd"]:
        found.append("the charge period ends before it starts")
    if not row["BillingPeriodStart"] <= row["ChargePeriodStart"] < row["BillingPeriodEnd"]:
        found.append("the charge period starts outside its billing period")
    if row.get("ResourceName") and not row.get("ResourceId"):
        found.append("ResourceName without ResourceId")
    if row.get("SubAccountName") and not row.get("SubAccountId"):
        found.append("SubAccountName without SubAccountId")
    return found


def _tags(text: str) -> list[str]:
    """KeyValueFormat: a JSON object whose values are numbers, strings, booleans or null."""
    if not text:
        return []
    try:
        tags = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        return [f"Tags {text!r} is not JSON"]
    if not isinstance(tags, dict):
        return ["Tags is not a JSON object"]
    return [f"Tags {k!r} holds an object or array" for k, v in tags.items()
            if isinstance(v, dict | list)]  # fmt: skip
