"""The columns each task reads, with the header names clients actually use."""

from __future__ import annotations

from maint.sheets import Field

MATCH_FIELDS = {
    "sku": Field(
        "sku",
        (
            "artikelnummer",
            "art nr",
            "artnr",
            "artikel",
            "item number",
            "item no",
            "reference",
            "référence",
            "ref",
            "sku code",
            "artikelcode",
        ),
    ),
    "model": Field("model", ("modell", "model number", "modèle", "modelnummer", "product code")),
    "product_id": Field("product_id", ("id", "product id", "produkt id", "produktid", "pid")),
}
MATCH_CHOICES = tuple(MATCH_FIELDS)

PRICE = Field(
    "price",
    (
        "preis",
        "new price",
        "neuer preis",
        "vk",
        "verkaufspreis",
        "prix",
        "prijs",
        "price change",
        "änderung",
        "amount",
    ),
    required=True,
)
SPECIAL = Field(
    "special", ("special price", "sonderpreis", "aktionspreis", "angebotspreis", "prix promo", "actieprijs")
)
SPECIAL_START = Field(
    "special_start",
    (
        "special from",
        "special start",
        "aktion von",
        "aktion ab",
        "sonderpreis ab",
        "sonderpreis von",
        "promo début",
        "actie van",
    ),
)
SPECIAL_END = Field(
    "special_end",
    ("special until", "special to", "special end", "aktion bis", "sonderpreis bis", "promo fin", "actie tot"),
)
GROUP = Field("group", ("customer group", "kundengruppe", "gruppe", "groupe", "klantgroep", "customer_group"))
QUANTITY = Field(
    "quantity", ("qty", "menge", "ab menge", "min qty", "minimum quantity", "quantité", "aantal")
)
PRIORITY = Field("priority", ("priorität", "prio", "priorité"))
DATE_START = Field("date_start", ("start", "from", "von", "ab", "gültig ab", "start date", "du", "van"))
DATE_END = Field("date_end", ("end", "to", "until", "bis", "gültig bis", "end date", "au", "tot"))
MODE = Field("mode", ("replace", "merge", "modus"))
EMAIL = Field("email", ("e-mail", "mail", "e-mail address", "email address", "courriel"), required=True)
GROUP_NAME = Field("name", ("group", "group name", "gruppe", "kundengruppe", "name", "nom"), required=True)
NEW_NAME = Field("new_name", ("rename to", "neuer name", "new group name", "nouveau nom"))


def price_fields(match: str) -> list[Field]:
    key = MATCH_FIELDS[match]
    return [Field(key.name, key.aliases, required=True), PRICE, SPECIAL, SPECIAL_START, SPECIAL_END]


def discount_fields(match: str) -> list[Field]:
    key = MATCH_FIELDS[match]
    return [
        Field(key.name, key.aliases, required=True),
        Field(GROUP.name, GROUP.aliases, required=True),
        PRICE,
        QUANTITY,
        PRIORITY,
        DATE_START,
        DATE_END,
    ]


DESCRIPTION = Field("description", ("beschreibung", "desc", "omschrijving", "group description"))
SORT_ORDER = Field(
    "sort_order", ("sort order", "sort", "sortierung", "reihenfolge", "position", "ordre", "volgorde")
)
APPROVAL = Field("approval", ("approve", "approve new customers", "freigabe", "approbation", "goedkeuring"))
GROUP_ACTION = Field("action", ("aktion", "aktie", "delete group"))
MOVE_TO = Field(
    "move_to",
    (
        "move customers to",
        "customers to",
        "move to",
        "kunden nach",
        "kunden verschieben nach",
        "déplacer vers",
    ),
)
