import pkg
import pkg.sub


def later():
    import pkg.sub as local
    from pkg.sub import deeper
    return local.deep() + deeper()


pkg.top()
pkg.sub.deep()
later()
