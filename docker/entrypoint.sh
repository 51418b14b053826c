#!/bin/sh
# For every MLCATALOG_<NAME>_FILE in the environment, set MLCATALOG_<NAME> to that file's content (trailing newlines
# dropped), then run the command: docker and Kubernetes secrets arrive as files, mlcatalog reads the environment.
set -eu
for var in $(env | sed -n 's/^\(MLCATALOG_[A-Z0-9_]*_FILE\)=.*/\1/p'); do
    name=${var%_FILE}
    eval "path=\${$var}"
    eval "already=\${$name:-}"
    if [ -n "$already" ]; then
        echo "mlcatalog-entrypoint: both $name and $var are set; set one" >&2
        exit 64
    fi
    if [ ! -r "$path" ]; then
        echo "mlcatalog-entrypoint: $var names $path, which cannot be read" >&2
        exit 66
    fi
    value=$(cat "$path")
    export "$name=$value"
    unset "$var"
done
exec "$@"
