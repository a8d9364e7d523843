"""Table definitions of the fixture store, per OpenCart release (opencart-facts.md part B3.3).

Only the tables the fixture's pages, the upgraders and the toolkit touch are defined; their columns,
types, defaults, engines and collations follow what a real install of each release creates.
3.0.x is the base; 4.0.2.3 and 4.1.0.4 are derived from it by the differences the facts list.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

NO_DEFAULT = object()  # sentinel: the column has no DEFAULT clause


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    default: object = NO_DEFAULT  # str/int/float, or None for DEFAULT NULL
    nullable: bool = False
    auto_increment: bool = False

    def ddl(self) -> str:
        parts = [f"`{self.name}`", self.type]
        if self.auto_increment:
            return " ".join([*parts, "NOT NULL AUTO_INCREMENT"])
        parts.append("NULL" if self.nullable else "NOT NULL")
        if self.default is None:
            parts.append("DEFAULT NULL")
        elif self.default is not NO_DEFAULT:
            parts.append(f"DEFAULT '{self.default}'")
        return " ".join(parts)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    engine: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)

    def create_sql(self, prefix: str, charset: str, collation: str) -> str:
        lines = [col.ddl() for col in self.columns]
        lines.append("PRIMARY KEY (" + ", ".join(f"`{c}`" for c in self.primary_key) + ")")
        body = ",\n  ".join(lines)
        return (
            f"CREATE TABLE `{prefix}{self.name}` (\n  {body}\n) ENGINE={self.engine} "
            f"DEFAULT CHARSET={charset} COLLATE={collation}"
        )


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]
    charset: str
    collation: str

    def table(self, name: str) -> Table:
        for tbl in self.tables:
            if tbl.name == name:
                return tbl
        raise KeyError(name)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(tbl.name for tbl in self.tables)


def _c(name: str, type_: str, default: object = NO_DEFAULT, *, null: bool = False) -> Column:
    return Column(name, type_, default, nullable=null)


def _id(name: str, type_: str = "int(11)") -> Column:
    return Column(name, type_, auto_increment=True)


_DATE0 = "0000-00-00"
_DIMENSIONS = tuple(_c(n, "decimal(15,8)", "0.00000000") for n in ("length", "width", "height"))

# --- 3.0.x (3.0.3.8 and 3.0.5.1 have the same columns) --------------------------------------------
_V30_COLUMNS: dict[str, tuple[tuple[Column, ...], tuple[str, ...]]] = {
    "setting": ((
        _id("setting_id"), _c("store_id", "int(11)", 0), _c("code", "varchar(128)"), _c("key", "varchar(128)"),
        _c("value", "text"), _c("serialized", "tinyint(1)"),
    ), ("setting_id",)),
    "product": ((
        _id("product_id"), _c("model", "varchar(64)"), _c("sku", "varchar(64)"), _c("upc", "varchar(12)"),
        _c("ean", "varchar(14)"), _c("jan", "varchar(13)"), _c("isbn", "varchar(17)"), _c("mpn", "varchar(64)"),
        _c("location", "varchar(128)"), _c("quantity", "int(4)", 0), _c("stock_status_id", "int(11)"),
        _c("image", "varchar(255)", None, null=True), _c("manufacturer_id", "int(11)"),
        _c("shipping", "tinyint(1)", 1), _c("price", "decimal(15,4)", "0.0000"), _c("points", "int(8)", 0),
        _c("tax_class_id", "int(11)"), _c("date_available", "date", _DATE0),
        _c("weight", "decimal(15,8)", "0.00000000"), _c("weight_class_id", "int(11)", 0), *_DIMENSIONS,
        _c("length_class_id", "int(11)", 0), _c("subtract", "tinyint(1)", 1), _c("minimum", "int(11)", 1),
        _c("sort_order", "int(11)", 0), _c("status", "tinyint(1)", 0), _c("viewed", "int(5)", 0),
        _c("date_added", "datetime"), _c("date_modified", "datetime"),
    ), ("product_id",)),
    "product_description": ((
        _c("product_id", "int(11)"), _c("language_id", "int(11)"), _c("name", "varchar(255)"),
        _c("description", "text"), _c("tag", "text"), _c("meta_title", "varchar(255)"),
        _c("meta_description", "varchar(255)"), _c("meta_keyword", "varchar(255)"),
    ), ("product_id", "language_id")),
    "product_discount": ((
        _id("product_discount_id"), _c("product_id", "int(11)"), _c("customer_group_id", "int(11)"),
        _c("quantity", "int(4)", 0), _c("priority", "int(5)", 1), _c("price", "decimal(15,4)", "0.0000"),
        _c("date_start", "date", _DATE0), _c("date_end", "date", _DATE0),
    ), ("product_discount_id",)),
    "product_special": ((
        _id("product_special_id"), _c("product_id", "int(11)"), _c("customer_group_id", "int(11)"),
        _c("priority", "int(5)", 1), _c("price", "decimal(15,4)", "0.0000"),
        _c("date_start", "date", _DATE0), _c("date_end", "date", _DATE0),
    ), ("product_special_id",)),
    # Rows that belong to a customer group, which fab groups removes with a deleted group (as the admin does).
    "product_reward": ((
        _id("product_reward_id"), _c("product_id", "int(11)", 0), _c("customer_group_id", "int(11)", 0),
        _c("points", "int(8)", 0),
    ), ("product_reward_id",)),
    "tax_rate_to_customer_group": ((
        _c("tax_rate_id", "int(11)"), _c("customer_group_id", "int(11)"),
    ), ("tax_rate_id", "customer_group_id")),
    "custom_field_customer_group": ((
        _c("custom_field_id", "int(11)"), _c("customer_group_id", "int(11)"), _c("required", "tinyint(1)"),
    ), ("custom_field_id", "customer_group_id")),
    # What a customer can buy (fab health's cart check): required options and the default store.
    "product_option": ((
        _id("product_option_id"), _c("product_id", "int(11)"), _c("option_id", "int(11)"), _c("value", "text"),
        _c("required", "tinyint(1)"),
    ), ("product_option_id",)),
    "product_to_store": ((
        _c("product_id", "int(11)"), _c("store_id", "int(11)", 0),
    ), ("product_id", "store_id")),
    "customer_group": ((
        _id("customer_group_id"), _c("approval", "int(1)"), _c("sort_order", "int(3)"),
    ), ("customer_group_id",)),
    "currency": ((
        _id("currency_id"), _c("title", "varchar(32)"), _c("code", "varchar(3)"), _c("symbol_left", "varchar(12)"),
        _c("symbol_right", "varchar(12)"), _c("decimal_place", "char(1)"), _c("value", "double(15,8)"),
        _c("status", "tinyint(1)"), _c("date_modified", "datetime"),
    ), ("currency_id",)),
    "customer_group_description": ((
        _c("customer_group_id", "int(11)"), _c("language_id", "int(11)"), _c("name", "varchar(32)"),
        _c("description", "text"),
    ), ("customer_group_id", "language_id")),
    "customer": ((
        _id("customer_id"), _c("customer_group_id", "int(11)"), _c("store_id", "int(11)", 0),
        _c("language_id", "int(11)"), _c("firstname", "varchar(32)"), _c("lastname", "varchar(32)"),
        _c("email", "varchar(96)"), _c("telephone", "varchar(32)"), _c("fax", "varchar(32)"),
        _c("password", "varchar(40)"), _c("salt", "varchar(9)"), _c("cart", "text", null=True),
        _c("wishlist", "text", null=True), _c("newsletter", "tinyint(1)", 0), _c("address_id", "int(11)", 0),
        _c("custom_field", "text"), _c("ip", "varchar(40)"), _c("status", "tinyint(1)"), _c("safe", "tinyint(1)"),
        _c("token", "text"), _c("code", "varchar(40)"), _c("date_added", "datetime"),
    ), ("customer_id",)),
    "order": ((
        _id("order_id"), _c("invoice_no", "int(11)", 0), _c("store_id", "int(11)", 0),
        _c("customer_id", "int(11)", 0), _c("customer_group_id", "int(11)", 0), _c("firstname", "varchar(32)"),
        _c("lastname", "varchar(32)"), _c("email", "varchar(96)"), _c("total", "decimal(15,4)", "0.0000"),
        _c("order_status_id", "int(11)", 0), _c("currency_code", "varchar(3)"), _c("date_added", "datetime"),
        _c("date_modified", "datetime"),
    ), ("order_id",)),
    "extension": ((
        _id("extension_id"), _c("type", "varchar(32)"), _c("code", "varchar(32)"),
    ), ("extension_id",)),
    "extension_install": ((
        _id("extension_install_id"), _c("extension_download_id", "int(11)"), _c("filename", "varchar(255)"),
        _c("date_added", "datetime"),
    ), ("extension_install_id",)),
    "extension_path": ((
        _id("extension_path_id"), _c("extension_install_id", "int(11)"), _c("path", "varchar(255)"),
        _c("date_added", "datetime"),
    ), ("extension_path_id",)),
    "module": ((
        _id("module_id"), _c("name", "varchar(64)"), _c("code", "varchar(32)"), _c("setting", "text"),
    ), ("module_id",)),
    "modification": ((
        _id("modification_id"), _c("extension_install_id", "int(11)"), _c("name", "varchar(64)"),
        _c("code", "varchar(64)"), _c("author", "varchar(64)"), _c("version", "varchar(32)"),
        _c("link", "varchar(255)"), _c("xml", "mediumtext"), _c("status", "tinyint(1)"),
        _c("date_added", "datetime"),
    ), ("modification_id",)),
    "language": ((
        _id("language_id"), _c("name", "varchar(32)"), _c("code", "varchar(5)"), _c("locale", "varchar(255)"),
        _c("image", "varchar(64)"), _c("directory", "varchar(32)"), _c("sort_order", "int(3)", 0),
        _c("status", "tinyint(1)"),
    ), ("language_id",)),
    "user_group": ((
        _id("user_group_id"), _c("name", "varchar(64)"), _c("permission", "text"),
    ), ("user_group_id",)),
    "user": ((
        _id("user_id"), _c("user_group_id", "int(11)"), _c("username", "varchar(20)"), _c("password", "varchar(40)"),
        _c("salt", "varchar(9)"), _c("firstname", "varchar(32)"), _c("lastname", "varchar(32)"),
        _c("email", "varchar(96)"), _c("image", "varchar(255)"), _c("code", "varchar(40)"), _c("ip", "varchar(40)"),
        _c("status", "tinyint(1)"), _c("date_added", "datetime"),
    ), ("user_id",)),
    "store": ((
        _id("store_id"), _c("name", "varchar(64)"), _c("url", "varchar(255)"), _c("ssl", "varchar(255)"),
    ), ("store_id",)),
    "session": ((
        _c("session_id", "varchar(32)"), _c("data", "text"), _c("expire", "datetime"),
    ), ("session_id",)),
    "cart": ((
        _id("cart_id", "int(11) unsigned"), _c("api_id", "int(11)"), _c("customer_id", "int(11)"),
        _c("session_id", "varchar(32)"), _c("product_id", "int(11)"), _c("recurring_id", "int(11)"),
        _c("option", "text"), _c("quantity", "int(5)"), _c("date_added", "datetime"),
    ), ("cart_id",)),
}
# A real 3.0.5.1 install has 132 MyISAM and 2 InnoDB tables; these are the fixture's two InnoDB ones. ⚠
_V30_INNODB = frozenset({"session", "cart"})


def _schema_30(charset: str, collation: str) -> Schema:
    tables = tuple(
        Table(name, cols, pk, "InnoDB" if name in _V30_INNODB else "MyISAM")
        for name, (cols, pk) in _V30_COLUMNS.items()
    )
    return Schema(tables, charset, collation)


def _without(cols: tuple[Column, ...], *names: str) -> tuple[Column, ...]:
    return tuple(c for c in cols if c.name not in names)


def _insert_after(cols: tuple[Column, ...], after: str, *new: Column) -> tuple[Column, ...]:
    out: list[Column] = []
    for col in cols:
        out.append(col)
        if col.name == after:
            out.extend(new)
    return tuple(out)


def _tables_40() -> dict[str, tuple[tuple[Column, ...], tuple[str, ...]]]:
    """4.0.2.3: NOT NULL columns, InnoDB; the differences from 3.0 that the toolkit can see."""
    t = dict(_V30_COLUMNS)
    t.pop("session")  # 4.x keeps sessions in files under DIR_SESSION
    t["customer"] = (_without(t["customer"][0], "fax", "salt", "cart", "wishlist", "address_id"), ("customer_id",))
    cust = t["customer"][0]
    t["customer"] = (tuple(replace(c, type="varchar(255)") if c.name == "password" else c for c in cust), ("customer_id",))
    t["store"] = (_without(t["store"][0], "ssl"), ("store_id",))
    t["module"] = ((  # 4.x module codes name the extension folder too: 'opencart.featured'
        _id("module_id"), _c("name", "varchar(64)"), _c("code", "varchar(64)"), _c("setting", "text"),
    ), ("module_id",))
    t["extension"] = ((
        _id("extension_id"), _c("extension", "varchar(255)"), _c("type", "varchar(32)"), _c("code", "varchar(128)"),
    ), ("extension_id",))
    t["extension_install"] = ((
        _id("extension_install_id"), _c("extension_id", "int(11)", 0), _c("extension_download_id", "int(11)", 0),
        _c("name", "varchar(128)"), _c("code", "varchar(255)"), _c("version", "varchar(255)"),
        _c("author", "varchar(255)"), _c("link", "varchar(255)"), _c("status", "tinyint(1)", 0),
        _c("date_added", "datetime"),
    ), ("extension_install_id",))
    t["extension_path"] = ((
        _id("extension_path_id"), _c("extension_install_id", "int(11)"), _c("path", "varchar(255)"),
    ), ("extension_path_id",))
    t.pop("modification")  # no OCMOD in 4.0.2.x
    t["product_description"] = (
        tuple(replace(c, type="mediumtext") if c.name == "description" else c for c in t["product_description"][0]),
        ("product_id", "language_id"),
    )
    t["language"] = ((
        _id("language_id"), _c("name", "varchar(32)"), _c("code", "varchar(5)"), _c("locale", "varchar(255)"),
        _c("extension", "varchar(255)"), _c("sort_order", "int(3)", 0), _c("status", "tinyint(1)"),
    ), ("language_id",))
    t["user"] = (_without(
        tuple(replace(c, type="varchar(255)") if c.name == "password" else c for c in t["user"][0]), "salt",
    ), ("user_id",))
    t["cart"] = ((
        _id("cart_id", "int(11) unsigned"), _c("api_id", "int(11)"), _c("customer_id", "int(11)"),
        _c("session_id", "varchar(32)"), _c("product_id", "int(11)"), _c("subscription_plan_id", "int(11)"),
        _c("option", "text"), _c("quantity", "int(5)"), _c("date_added", "datetime"),
    ), ("cart_id",))
    return t


def _schema_40() -> Schema:
    tables = tuple(Table(name, cols, pk, "InnoDB") for name, (cols, pk) in _tables_40().items())
    return Schema(tables, "utf8mb4", "utf8mb4_general_ci")


def _nullable(cols: tuple[Column, ...]) -> tuple[Column, ...]:
    # 4.1's db_schema.php dropped `not_null`: every column but the auto-increment key accepts NULL.
    return tuple(c if c.auto_increment else replace(c, nullable=True) for c in cols)


def _strip_date_defaults(cols: tuple[Column, ...]) -> tuple[Column, ...]:
    return tuple(replace(c, default=NO_DEFAULT) if c.type == "date" else c for c in cols)


def _tables_41() -> dict[str, tuple[tuple[Column, ...], tuple[str, ...]]]:
    t = _tables_40()
    product = _without(t["product"][0], "sku", "upc", "ean", "jan", "isbn", "mpn", "viewed")
    product = _insert_after(product, "product_id", _c("master_id", "int(11)", 0))
    product = _insert_after(product, "location", _c("variant", "text", ""), _c("override", "text", ""))
    product = _insert_after(product, "minimum", _c("rating", "int(1)", 0))
    product = tuple(
        replace(c, default=0) if c.name in ("stock_status_id", "manufacturer_id", "tax_class_id") else c
        for c in product
    )
    t["product"] = (_strip_date_defaults(product), ("product_id",))
    t.pop("product_special")  # specials are product_discount rows with special=1
    discount = _insert_after(
        t["product_discount"][0], "price", _c("type", "char(1)", "P"), _c("special", "tinyint(1)", 0),
    )
    t["product_discount"] = (_strip_date_defaults(discount), ("product_discount_id",))
    t["product_code"] = ((
        _id("product_code_id"), _c("product_id", "int(11)"), _c("code", "varchar(48)"), _c("value", "varchar(255)"),
    ), ("product_code_id",))
    t["customer_group"] = ((
        _id("customer_group_id"), _c("approval", "int(1)", 0), _c("sort_order", "int(3)", 0),
    ), ("customer_group_id",))
    cust = tuple(
        replace(c, default=0) if c.name in ("customer_group_id", "language_id", "status", "safe") else c
        for c in t["customer"][0]
    )
    t["customer"] = (_insert_after(cust, "safe", _c("commenter", "tinyint(1)", 0)), ("customer_id",))
    t["setting"] = (
        tuple(
            replace(c, type="mediumtext") if c.name == "value"
            else replace(c, default=0) if c.name == "serialized" else c
            for c in t["setting"][0]
        ),
        ("setting_id",),
    )
    t["extension_install"] = (
        _insert_after(t["extension_install"][0], "name", _c("description", "text")), ("extension_install_id",),
    )
    t["module"] = (tuple(replace(c, type="mediumtext") if c.name == "setting" else c for c in t["module"][0]),
                   ("module_id",))
    t["modification"] = ((
        _id("modification_id"), Column("extension_install_id", "int(11)"), _c("name", "varchar(64)"),
        _c("description", "text"), _c("code", "varchar(64)"), _c("author", "varchar(64)"),
        _c("version", "varchar(32)"), _c("link", "varchar(255)"), _c("xml", "mediumtext"),
        _c("status", "tinyint(1)", 0), _c("date_added", "datetime"),
    ), ("modification_id",))
    nullable = {}
    for name, (cols, pk) in t.items():
        fixed = tuple(c for c in cols if name == "modification" and c.name == "extension_install_id")
        new_cols = tuple(c if c in fixed else n for c, n in zip(cols, _nullable(cols), strict=True))
        # composite primary keys stay NOT NULL (MariaDB requires it)
        new_cols = tuple(replace(c, nullable=False) if c.name in pk else c for c in new_cols)
        nullable[name] = (new_cols, pk)
    return nullable


def _schema_41() -> Schema:
    tables = tuple(Table(name, cols, pk, "InnoDB") for name, (cols, pk) in _tables_41().items())
    return Schema(tables, "utf8mb4", "utf8mb4_unicode_ci")


SCHEMAS: dict[str, Schema] = {
    "3.0.3.8": _schema_30("utf8mb3", "utf8mb3_general_ci"),
    "3.0.5.1": _schema_30("utf8mb4", "utf8mb4_unicode_ci"),
    "4.0.2.3": _schema_40(),
    "4.1.0.4": _schema_41(),
}


def schema_for(version: str, engine: str | None = None) -> Schema:
    """The schema of `version`; `engine` (e.g. 'InnoDB') replaces every table's engine."""
    schema = SCHEMAS[version]
    if engine is None:
        return schema
    return replace(schema, tables=tuple(replace(t, engine=engine) for t in schema.tables))
