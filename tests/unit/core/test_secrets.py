import pymysql
import pytest

from maint.errors import DbAuthError, InputError, SqlError
from maint.remote.sql import DbCredentials, _sql_error, table


def creds():
    return DbCredentials(host="127.0.0.1", port=3306, user="u", password="Sup3r-Secret", database="shop")


def test_password_is_not_in_repr_or_str():
    c = creds()
    assert "Sup3r-Secret" not in repr(c)
    assert "Sup3r-Secret" not in str(c)


def test_login_refused_error_carries_no_password():
    exc = pymysql.err.OperationalError(1045, "Access denied for user 'u'@'x' (using password: YES)")
    err = _sql_error(exc, creds(), "demo")
    assert isinstance(err, DbAuthError)
    assert "Sup3r-Secret" not in str(err) and err.exit_code == 42


def test_table_names_are_checked_before_they_reach_sql():
    assert table("oc_", "product") == "`oc_product`"
    with pytest.raises(SqlError):
        table("oc_`; DROP TABLE x; --", "product")


def test_input_error_names_file_row_and_column():
    err = InputError("not a number", file="prices.xlsx", row=7, column="price", value="abc")
    assert str(err) == "prices.xlsx, row 7, column 'price': not a number"


def test_input_error_about_a_flag_does_not_call_it_a_column():
    assert str(InputError("--php 'x' is not a version", column="--php")) == "--php 'x' is not a version"
    assert str(InputError("not understood", column="duration")) == "argument 'duration': not understood"
