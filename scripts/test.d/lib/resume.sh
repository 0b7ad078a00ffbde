# resume.sh — sourced by the stage scripts (from the project's root) that kill a training and
# resume it: image.sh, lm.sh.
# kill_after_saves SIGNAL DIR ROWS LOG CMD...: run CMD in the background (stdout and stderr to
# LOG), send it SIGNAL once DIR/metrics.csv has ROWS lines (ROWS - 1 saves; at once if CMD has
# ended), and wait for it. The caller then runs CMD again with --resume.
kill_after_saves() {
    ks_sig=$1 ks_dir=$2 ks_rows=$3 ks_log=$4
    shift 4
    "$@" > "$ks_log" 2>&1 &
    ks_pid=$!
    while kill -0 $ks_pid 2>/dev/null &&
        [ "$(if [ -f "$ks_dir/metrics.csv" ]; then wc -l < "$ks_dir/metrics.csv"; else echo 0; fi)" -lt "$ks_rows" ]; do
        sleep 0.01
    done
    kill "-$ks_sig" $ks_pid 2>/dev/null
    wait $ks_pid 2>/dev/null
}
