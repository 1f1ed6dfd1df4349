from agent.boot import boot

_zygote = boot()  # first: the zygote's image holds none of the modules imported below

from agent.serve import main  # noqa: E402

main(*_zygote)
