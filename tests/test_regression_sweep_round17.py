"""Round 17 regression sweep: what re-running round 16's offline differential fuzzers on round 17's tree found,
each case compared with live PyTorch."""
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _raises(fn):
    try:
        fn()
    except Exception as e:   # noqa: BLE001 - the class is the comparison
        return type(e)
    return None


@pytest.mark.parametrize("name", ["get_autocast_dtype", "is_autocast_enabled", "set_autocast_dtype"])
@pytest.mark.parametrize("device_type", [1, "tensor"])
def test_autocast_functions_refuse_a_non_string_device_type_with_type_error(name, device_type):
    def call(lib):
        arg = lib.tensor(1.0) if device_type == "tensor" else device_type
        if name == "set_autocast_dtype":
            return lib.set_autocast_dtype(arg, lib.float16)
        return getattr(lib, name)(arg)

    assert _raises(lambda: call(torch)) is TypeError
    assert issubclass(_raises(lambda: call(mg)), TypeError)


def test_autocast_block_refuses_a_non_string_device_type_with_value_error():
    assert _raises(lambda: torch.autocast(3)) is ValueError
    assert issubclass(_raises(lambda: mg.autocast(3)), ValueError)
