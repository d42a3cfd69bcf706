import minigrad as mg


def test_import_and_backward():
    a = mg.randn(3, 4, requires_grad=True)
    b = mg.randn(4, requires_grad=True)
    (a * b + a).tanh().sum().backward()
    assert a.grad.shape == (3, 4)
    assert b.grad.shape == (4,)


def test_nn_is_same_module():
    import nn
    from minigrad import nn as nn2

    assert nn is nn2
