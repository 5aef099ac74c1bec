#!/bin/sh
# mpi-hosts.sh: fake hosts for mpirun, a network namespace each.
#
# usage: mpi-hosts.sh up N DIR
#        mpi-hosts.sh down DIR
#        mpi-hosts.sh cut DIR HOST
#
# up (as root) makes the namespaces PREFIX1 to PREFIXN, PREFIX being
# $FFH_PREFIX or "ffh" (with a "-" after it if it ends in a digit).
# Each has lo and an eth0 whose peer, PREFIXvI, is on the bridge
# PREFIXbr0.  The bridge is NET.1/24 and host I is NET.(I+1), NET being
# $FFH_NET or 10.231.0.  The names go into /etc/hosts, on lines that end
# in "#mpi-hosts:PREFIX".  In DIR it writes
#	hostfile	for mpirun --hostfile, a slot a host
#	hosts		the names, comma-separated, for mpirun --host
#	hosts.txt	address and name, a line a host
#	agent		the rsh agent that mpirun runs to reach a host
#	env		export lines that point mpirun at all this
#	state		what down needs
# When it cannot (not root, no ip(8), no namespaces...) it undoes what
# it did, says why in one line and exits 77, which tests turn into a
# skip.
#
# The agent, called as "agent [ssh options] HOST COMMAND...", runs
# COMMAND with sh in HOST's namespace, in new UTS and mount namespaces
# where the hostname is HOST and /dev/shm is a tmpfs of its own, so that
# a rank sees its host's name and hosts share no memory segments.  It
# fails, like ssh, when HOST's link is cut.
#
# env sets the agent; tcp for ranks on different hosts and vader (shared
# memory) for ranks on one; the bridge's subnet for both, as mpirun's
# other addresses are out of the hosts' reach; no tree spawn, so that
# mpirun starts every daemon itself, from outside the namespaces; leave
# to run as root; more ranks than slots; and TCP keepalives of a few
# seconds on the daemons' links, without which mpirun notices a cut
# host only after eight minutes, and hangs till then even on SIGTERM.
#
# down undoes up, kills what still runs in the namespaces, and never
# complains.  cut takes HOST's link down at both ends of its veth.

PATH=$PATH:/sbin:/usr/sbin
export PATH
prog=mpi-hosts.sh

usage() {
	echo "usage: $prog up N DIR | down DIR | cut DIR HOST" >&2
	exit 2
}

# q WORD: WORD quoted for sh.
q() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# getstate [DIR]: pfx, sep, net and made, from DIR/state or the
# environment; false if the prefix is not a sane one.
getstate() {
	pfx=${FFH_PREFIX:-ffh} net=${FFH_NET:-10.231.0} made=
	if [ -n "${1:-}" ] && [ -r "$1/state" ]; then
		while IFS='=' read -r k v; do
			case $k in
			pfx) pfx=$v ;;
			net) net=$v ;;
			made) made=$v ;;
			esac
		done <"$1/state"
	fi
	case $pfx in
	*[0-9]) sep=- ;;
	*) sep= ;;
	esac
	case $pfx in
	[a-z]*[!a-z0-9]* | [!a-z]* | '') return 1 ;;
	esac
	[ ${#pfx} -le 10 ]
}

# hosts_edit: drop our lines from /etc/hosts and append stdin, under a
# lock if there is flock(1).  Replace the file by rename, so that no one
# reads half of it, or, when that fails (a bind mount), rewrite it.
hosts_edit() {
	_in=$(mktemp) || return 1
	_new=$(mktemp) || {
		rm -f "$_in"
		return 1
	}
	_t=/etc/.hosts.mpi-hosts.$$
	_l=/run/lock
	[ -d $_l ] || _l=/tmp
	cat >"$_in"
	{
		if command -v flock >/dev/null 2>&1; then
			flock 9
		fi
		if grep -q "#mpi-hosts:$pfx\$" /etc/hosts || [ -s "$_in" ]
		then
			grep -v "#mpi-hosts:$pfx\$" /etc/hosts >"$_new"
			[ $? -le 1 ] && cat "$_in" >>"$_new" && {
				{
					cp -p /etc/hosts "$_t" &&
					    cat "$_new" >"$_t" &&
					    mv -f "$_t" /etc/hosts
				} 2>/dev/null || cat "$_new" >/etc/hosts
			}
		fi
	} 9>>$_l/mpi-hosts.lock
	_r=$?
	rm -f "$_in" "$_new" "$_t"
	return $_r
}

# nspids: the processes in the namespaces _ns.
nspids() {
	for _h in $_ns; do
		ip netns pids "$_h" 2>/dev/null
	done
}

# teardown: kill what runs in our namespaces, remove everything named
# after pfx.
teardown() {
	_ns=$(ip netns list 2>/dev/null | awk '{ print $1 }' |
	    grep -E "^${pfx}${sep}[0-9]+\$")
	_p=$(nspids)
	if [ -n "$_p" ]; then
		# shellcheck disable=SC2086
		kill -TERM $_p 2>/dev/null
		sleep 1
		_p=$(nspids)
		# shellcheck disable=SC2086
		[ -n "$_p" ] && kill -KILL $_p 2>/dev/null
	fi
	for _h in $_ns; do
		ip -n "$_h" link del eth0 2>/dev/null
		ip netns del "$_h" 2>/dev/null
	done
	for _l in $(ip -o link show 2>/dev/null |
	    awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
	    grep -E "^${pfx}v[0-9]+\$"); do
		ip link del "$_l" 2>/dev/null
	done
	ip link del "${pfx}br0" 2>/dev/null
	hosts_edit </dev/null 2>/dev/null
	return 0
}

# skip WHY: give up before making anything.
skip() {
	echo "$prog: $*" >&2
	exit 77
}

# fail WHY: undo and give up.
fail() {
	trap - HUP INT TERM
	teardown
	rm -f "$dir/hostfile" "$dir/hosts" "$dir/hosts.txt" "$dir/agent" \
	    "$dir/env" "$dir/state"
	[ -n "$made" ] && rmdir "$dir" 2>/dev/null
	skip "$@"
}

# try WHY CMD...: run CMD, fail with WHY and its first error line.
try() {
	_why=$1
	shift
	_e=$("$@" 2>&1) || fail "$_why: $(printf '%s\n' "$_e" | sed 1q)"
}

up() {
	[ $# -eq 2 ] || usage
	n=$1 dir=$2
	case $n in
	'' | *[!0-9]*) usage ;;
	esac
	if [ "$n" -lt 1 ] || [ "$n" -gt 250 ]; then
		usage
	fi
	case $dir in
	*[[:space:]:]*)
		echo "$prog: $dir: no blanks or colons, please" >&2
		exit 2
		;;
	esac
	getstate || {
		echo "$prog: FFH_PREFIX: a letter, then at most 9 letters" \
		    "or digits" >&2
		exit 2
	}
	case $net in
	*[!0-9.]* | *.*.*.* | *..* | .* | *.) usage ;;
	*.*.*) ;;
	*) usage ;;
	esac

	[ "$(id -u 2>/dev/null)" = 0 ] || skip "not root"
	for c in ip unshare mount hostname awk; do
		command -v $c >/dev/null 2>&1 || skip "no $c"
	done
	ip netns list >/dev/null 2>&1 || skip "ip(8) has no netns"
	if ip link show "${pfx}br0" >/dev/null 2>&1 ||
	    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
	    grep -Eq "^${pfx}v[0-9]+\$" ||
	    ip netns list | awk '{ print $1 }' |
	    grep -Eq "^${pfx}${sep}[0-9]+\$" ||
	    grep -q "#mpi-hosts:$pfx\$" /etc/hosts; then
		skip "$pfx hosts exist (FFH_PREFIX=$pfx $prog down DIR)"
	fi
	ip -4 -o addr show | grep -q " inet $net\\." &&
	    skip "$net.0/24 in use (set FFH_NET)"
	[ -w /etc/hosts ] || skip "cannot write /etc/hosts"

	made=
	trap 'fail interrupted' HUP INT TERM
	if [ ! -d "$dir" ]; then
		mkdir -p "$dir" 2>/dev/null || fail "cannot make $dir"
		made=1
	fi
	dir=$(cd "$dir" && pwd) || fail "cannot enter $dir"
	printf 'pfx=%s\nnet=%s\nn=%s\nmade=%s\n' "$pfx" "$net" "$n" \
	    "$made" >"$dir/state" || fail "cannot write in $dir"

	br=${pfx}br0
	try "cannot make bridge $br" ip link add "$br" type bridge
	try "cannot address $br" ip addr add "$net.1/24" dev "$br"
	try "cannot raise $br" ip link set "$br" up
	: >"$dir/hosts.txt"
	i=1 list=
	while [ "$i" -le "$n" ]; do
		h=$pfx$sep$i a=$net.$((i + 1)) v=${pfx}v$i
		try "cannot create namespace $h" ip netns add "$h"
		try "cannot make veth $v" \
		    ip link add "$v" type veth peer name eth0 netns "$h"
		try "cannot set up $h" ip -n "$h" addr add "$a/24" dev eth0
		try "cannot set up $h" ip -n "$h" link set eth0 up
		try "cannot set up $h" ip -n "$h" link set lo up
		try "cannot bridge $v" ip link set "$v" master "$br" up
		echo "$a $h" >>"$dir/hosts.txt"
		echo "$h slots=1"
		list=$list${list:+,}$h
		i=$((i + 1))
	done >"$dir/hostfile"
	echo "$list" >"$dir/hosts"
	sed "s/\$/ #mpi-hosts:$pfx/" "$dir/hosts.txt" | hosts_edit ||
	    fail "cannot edit /etc/hosts"

	cat >"$dir/agent" <<EOF || fail "cannot write $dir/agent"
#!/bin/sh
# rsh agent for mpirun, made by $prog: agent [ssh options] HOST COMMAND...
PATH=\$PATH:/sbin:/usr/sbin
IFS=' '
while [ \$# -gt 0 ]; do
	case \$1 in
	--) shift; break ;;
	-[BbcDEeFIiJLlmOopQRSWw]) shift 2 ;;
	-*) shift ;;
	*) break ;;
	esac
done
if [ \$# -lt 2 ]; then
	echo "agent: usage: agent [options] host command" >&2
	exit 255
fi
ns=\$(awk -v h="\$1" '\$1 == h || \$2 == h { print \$2; exit }' \\
    $(q "$dir/hosts.txt"))
if [ -z "\$ns" ]; then
	echo "agent: \$1: unknown host" >&2
	exit 255
fi
shift
if ! ip -n "\$ns" link show eth0 2>/dev/null | grep -q LOWER_UP; then
	echo "agent: \$ns: no route to host" >&2
	exit 255
fi
exec ip netns exec "\$ns" unshare --uts --mount sh -c '
	mount --make-rprivate / &&
	mount -t tmpfs -o mode=1777 tmpfs /dev/shm &&
	hostname "\$1" &&
	exec sh -c "\$2"' agent "\$ns" "\$*"
EOF
	chmod +x "$dir/agent" || fail "cannot chmod $dir/agent"

	cat >"$dir/env" <<EOF || fail "cannot write $dir/env"
export OMPI_MCA_plm_rsh_agent=$(q "$dir/agent")
export OMPI_MCA_plm_rsh_no_tree_spawn=1
export OMPI_MCA_btl=tcp,vader,self
export OMPI_MCA_pml=ob1
export OMPI_MCA_btl_tcp_if_include=$net.0/24
export OMPI_MCA_oob_tcp_if_include=$net.0/24
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_oob_tcp_keepalive_time=2
export OMPI_MCA_oob_tcp_keepalive_intvl=1
export OMPI_MCA_oob_tcp_keepalive_probes=3
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF
	trap - HUP INT TERM
	return 0
}

down() {
	[ $# -eq 1 ] || usage
	dir=$1
	getstate "$dir" || return 0
	command -v ip >/dev/null 2>&1 && teardown
	rm -f "$dir/hostfile" "$dir/hosts" "$dir/hosts.txt" "$dir/agent" \
	    "$dir/env" "$dir/state" 2>/dev/null
	[ -n "$made" ] && rmdir "$dir" 2>/dev/null
	return 0
}

cut() {
	[ $# -eq 2 ] || usage
	dir=$1 h=$2
	getstate "$dir" || usage
	i=${h#"$pfx$sep"}
	case $i in
	'' | *[!0-9]*)
		echo "$prog: $h: not one of the $pfx hosts" >&2
		exit 1
		;;
	esac
	ip link set "${pfx}v$i" down && ip -n "$h" link set eth0 down
}

case $1 in
up | down | cut)
	cmd=$1
	shift
	$cmd "$@"
	;;
*) usage ;;
esac
