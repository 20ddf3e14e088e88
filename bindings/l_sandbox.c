/* bindings/l_sandbox.c: placeholder until the module lands. */
#include "lhelpers.h"

int luaopen_xlua_sandbox(lua_State *L)
{
    lua_newtable(L);
    return 1;
}
