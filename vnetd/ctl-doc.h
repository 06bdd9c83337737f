/* ctl-doc.h -- vnetctl(8) and its bash completion, from the command table. */
#ifndef VNETD_CTL_DOC_H
#define VNETD_CTL_DOC_H 1

#include <stdio.h>

/* The manual page vnetctl(8) in troff (man) format. */
void ctl_doc_man(FILE *);
/* A bash completion script for vnetctl. */
void ctl_doc_completion(FILE *);

#endif
