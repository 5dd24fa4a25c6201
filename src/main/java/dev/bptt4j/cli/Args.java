package dev.bptt4j.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Positional arguments and {@code --name value} options; every option must be consumed by the command. */
final class Args {
    private final List<String> positional = new ArrayList<>();
    private final Map<String, String> options = new HashMap<>();
    private final Set<String> consumed = new HashSet<>();

    Args(List<String> raw, Set<String> flags) {
        for (int i = 0; i < raw.size(); i++) {
            String a = raw.get(i);
            if (a.startsWith("--") && a.length() > 2) {
                String name = a.substring(2);
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    options.put(name.substring(0, eq), name.substring(eq + 1));
                } else if (flags.contains(name)) {
                    options.put(name, "true");
                } else {
                    if (i + 1 >= raw.size()) throw new UsageException("option --" + name + " needs a value");
                    options.put(name, raw.get(++i));
                }
            } else {
                positional.add(a);
            }
        }
    }

    List<String> positional() {
        return positional;
    }

    String positional(int i, String what) {
        if (i >= positional.size()) throw new UsageException("missing argument: " + what);
        return positional.get(i);
    }

    String option(String name, String fallback) {
        consumed.add(name);
        return options.getOrDefault(name, fallback);
    }

    boolean flag(String name) {
        consumed.add(name);
        return Boolean.parseBoolean(options.getOrDefault(name, "false"));
    }

    int intOption(String name, int fallback) {
        String v = option(name, null);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + ": expected an integer, got '" + v + "'");
        }
    }

    /** Rejects options the command did not ask for, and more positionals than it takes. */
    void finish(int maxPositional) {
        for (String k : options.keySet()) if (!consumed.contains(k)) throw new UsageException("unknown option --" + k);
        if (positional.size() > maxPositional) throw new UsageException("unexpected argument: " + positional.get(maxPositional));
    }
}
