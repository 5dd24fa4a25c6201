package dev.bptt4j.cli;

/** A command line that cannot be understood; its message is printed with the usage. */
final class UsageException extends RuntimeException {
    UsageException(String message) {
        super(message);
    }
}
