# contrib/dovecot/learn-ham.sieve - a message a user moved or copied out of
# Junk is ham (not spam): teach hosterra-milter's content model, except
# when it went to the Trash, which says nothing about what it was.
#
# Run by Dovecot's IMAPSieve (contrib/dovecot/91-hosterra-imapsieve.conf)
# when a message is copied or moved from Junk to any other mailbox; the
# message goes to "hosterra-milter --learn ham --user USER -" on standard
# input through vnd.dovecot.pipe (see learn-spam.sieve).  A message learned
# as spam before is relearned: that step is undone and the ham step done.
# Compile with sievec after each edit.

require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.mailbox" "*" {
	set "mailbox" "${1}";
}
if string :is "${mailbox}" ["Trash", "Deleted Messages", "Deleted Items"] {
	stop;
}
if environment :matches "imap.user" "*" {
	set "user" "${1}";
}

pipe :copy "hosterra-milter" ["--learn", "ham", "--user", "${user}", "-"];
