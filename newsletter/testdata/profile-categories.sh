#!/bin/sh
# profile-categories.sh PROFILE MESSAGES: ms of CPU per 1,000 messages by category (issue 27,
# docs/BENCHMARKS.md), each sample counted once: a category's -focus with the earlier ones -ignored.
prof=$1 msgs=$2
ign=""
total=$(go tool pprof -top -nodecount=1 "$prof" 2>/dev/null | grep -o 'of [0-9.]*m\?s total' | grep -o '[0-9.]*m\?s')
tosec() { case $1 in *ms) echo "$1" | sed 's/ms//' | awk '{print $1/1000}';; *s) echo "$1" | sed 's/s//';; *) echo 0;; esac; }
T=$(tosec "$total")
sum=0
while IFS='|' read -r name pat; do
	[ -z "$name" ] && continue
	if [ -z "$ign" ]; then
		line=$(go tool pprof -top -nodecount=100000 -focus="$pat" "$prof" 2>/dev/null | grep 'Showing nodes accounting for')
	else
		line=$(go tool pprof -top -nodecount=100000 -focus="$pat" -ignore="$ign" "$prof" 2>/dev/null | grep 'Showing nodes accounting for')
	fi
	v=$(echo "$line" | sed -n 's/.*accounting for \([0-9.]*m\?s\),.*/\1/p')
	[ -z "$v" ] && v=0s
	s=$(tosec "$v")
	printf '%-14s %6.0f ms\n' "$name" "$(echo "$s $msgs" | awk '{print $1*1e6/$2}')"
	sum=$(echo "$sum $s" | awk '{print $1+$2}')
	if [ -z "$ign" ]; then ign="$pat"; else ign="$ign|$pat"; fi
done <<'CATS'
dkim|newsletter\.\(\*dkimSigner\)|newsletter\.\(\*relaxedBody\)|newsletter\.\(\*dkimTee\)|newsletter\.signedMsg|go-mail/internal/dkim|crypto/rsa|crypto/ed25519
links|subscribers\.\(\*Signer\)
ledger|modernc\.org/sqlite|newsletter\.\(\*journal\)|newsletter\.\(\*ledger\)|newsletter\.\(\*groupCommit\)|jackc/pgx
socket|internal/poll\.\(\*FD\)\.(Write|Read)
qp|mime/quotedprintable
dotstuff|textproto\.\(\*dotWriter\)|dotStuffer
smtpcmds|smtp\.\(\*Client\)|DataCloser|textproto
compose|go-mail|personal|segmentsBody|encodedBody|splicedMail|encoding/base64
gc|runtime\.gc|runtime\.mallocgc|runtime\.bgsweep|runtime\.bgscavenge|runtime\.markroot|runtime\.scanobject|runtime\.greyobject
sched|findRunnable|runtime\.schedule|runtime\.mcall|runtime\.park_m
CATS
printf '%-14s %6.0f ms\n' other "$(echo "$T $sum $msgs" | awk '{print ($1-$2)*1e6/$3}')"
printf '%-14s %6.0f ms\n' total "$(echo "$T $msgs" | awk '{print $1*1e6/$2}')"
