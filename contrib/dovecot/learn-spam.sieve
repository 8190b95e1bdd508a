# contrib/dovecot/learn-spam.sieve - a message a user moved or copied into
# Junk is spam: teach hosterra-milter's content model (DESIGN §9).
#
# Run by Dovecot's IMAPSieve (contrib/dovecot/91-hosterra-imapsieve.conf)
# when a message is copied, moved or appended into Junk.  The message goes
# to "hosterra-milter --learn spam --user USER -" on standard input through
# the vnd.dovecot.pipe extension (sieve_extprograms): no temporary file, no
# network service of its own.  The program is looked up in
# sieve_pipe_bin_dir, where a symbolic link to /usr/sbin/hosterra-milter is
# installed.  --user gives the learning rate limit per user
# (classifier.learn_rate_limit); a refusal or a Redis outage is logged by
# Dovecot and never blocks the move.  Compile with sievec after each edit.

require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.user" "*" {
	set "user" "${1}";
}

pipe :copy "hosterra-milter" ["--learn", "spam", "--user", "${user}", "-"];
